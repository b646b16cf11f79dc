import { lazy, Suspense, useMemo, type ComponentType, type LazyExoticComponent } from 'react';
import { Redirect, Route, Switch } from 'wouter';
import { createApis, fetchTransport, type CsrfHolder } from './api.ts';
import { I18nProvider, mergeCatalogues, useT } from './i18n.tsx';
import { LiveEvents } from './live.ts';
import { shellMessages } from './messages.ts';
import { ConsoleContextValue, type ConsoleContext } from './query.ts';
import { allPages, areas, navEntries, visiblePages, type PageDef } from './registry.ts';
import { SessionProvider, useSession, useSessionState } from './session.tsx';
import { Layout } from './Layout.tsx';
import SignIn from './SignIn.tsx';
import { Page } from '../ui/Page.tsx';

const catalogues = mergeCatalogues([shellMessages, ...areas.map((area) => area.messages)]);

/** One lazy component per page, made once: each page is a chunk of its own. */
const lazyPages = new Map<PageDef, LazyExoticComponent<ComponentType>>(
  allPages.map((page) => [page, lazy(page.load)]),
);

function Loading() {
  const t = useT();
  return (
    <p className="muted" role="status">
      {t('ui.loading')}
    </p>
  );
}

function NotFound() {
  const t = useT();
  return (
    <Page title={t('shell.notFound.title')}>
      <p>{t('shell.notFound.text')}</p>
    </Page>
  );
}

/** The pages this principal may open; anything else is "not found" (the API would refuse it anyway). */
function Pages() {
  const session = useSession();
  const pages = useMemo(() => visiblePages(allPages, session), [session]);
  const home = navEntries(pages, session)[0]?.href;
  return (
    <Layout pages={pages}>
      <Suspense fallback={<Loading />}>
        <Switch>
          {home ? (
            <Route path="/">
              <Redirect to={home} replace />
            </Route>
          ) : null}
          {pages.map((page) => (
            <Route key={page.path} path={page.path} component={lazyPages.get(page)} />
          ))}
          <Route component={NotFound} />
        </Switch>
      </Suspense>
    </Layout>
  );
}

function Gate() {
  const { state } = useSessionState();
  if (state.kind === 'loading') return <Loading />;
  if (state.kind === 'signed-out') return <SignIn />;
  return <Pages />;
}

export function App() {
  const services = useMemo(() => {
    const csrf: CsrfHolder = { token: null };
    const expiry = { onExpire: () => undefined as void };
    const { api, loose } = createApis(fetchTransport(csrf, () => expiry.onExpire()));
    const live = new LiveEvents();
    const context: ConsoleContext = { api, loose, live };
    return { csrf, expiry, context };
  }, []);
  return (
    <I18nProvider catalogues={catalogues}>
      <ConsoleContextValue.Provider value={services.context}>
        <SessionProvider
          api={services.context.api}
          csrf={services.csrf}
          live={services.context.live}
          expiry={services.expiry}
        >
          <Gate />
        </SessionProvider>
      </ConsoleContextValue.Provider>
    </I18nProvider>
  );
}
