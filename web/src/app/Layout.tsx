import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { languages, useI18n, type Language } from './i18n.tsx';
import { navEntries, navSections, type PageDef } from './registry.ts';
import { useConsole } from './query.ts';
import { useSession, useSessionState } from './session.tsx';
import type { LiveState } from './live.ts';

export function LanguageSwitch() {
  const { t, language, setLanguage } = useI18n();
  return (
    <label className="language">
      <span className="visually-hidden">{t('shell.language')}</span>
      <select value={language} onChange={(event) => setLanguage(event.target.value as Language)}>
        {languages.map((code) => (
          <option key={code} value={code} lang={code}>
            {t(`shell.language.${code}`)}
          </option>
        ))}
      </select>
    </label>
  );
}

function LiveIndicator() {
  const { t } = useI18n();
  const { live } = useConsole();
  const [state, setState] = useState<LiveState>(live.current);
  useEffect(() => live.onState(setState), [live]);
  return (
    <span className={`live live-${state}`} role="status">
      {t(`shell.live.${state}`)}
    </span>
  );
}

/**
 * The frame of every page: a skip link, a banner with the account, a nav
 * built from the page registry (only what this role may use), and the main
 * landmark, which takes focus on each navigation (a screen reader hears the
 * new page, a keyboard starts from its top).
 */
export function Layout(props: { readonly pages: readonly PageDef[]; readonly children: ReactNode }) {
  const { t } = useI18n();
  const session = useSession();
  const { signOut } = useSessionState();
  const [location] = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [location]);
  const entries = navEntries(props.pages, session);
  return (
    <div className="shell">
      <a className="skip" href="#main">
        {t('shell.skip')}
      </a>
      <header className="topbar">
        <Link href="/" className="brand">
          Steward
        </Link>
        <div className="account">
          <LiveIndicator />
          <LanguageSwitch />
          <span className="who">
            {session.username}
            {session.tenant ? ` · ${session.tenant}` : ''}{' '}
            <span className="muted">({t(`role.${session.role}`)})</span>
          </span>
          <button type="button" className="btn btn-link" onClick={() => void signOut()}>
            {t('shell.signOut')}
          </button>
        </div>
      </header>
      <nav className="sidenav" aria-label={t('shell.nav')}>
        {navSections.map((section) => {
          const inSection = entries.filter((entry) => entry.section === section);
          if (!inSection.length) return null;
          return (
            <div key={section} className="nav-section">
              <h2>{t(`nav.section.${section}`)}</h2>
              <ul>
                {inSection.map((entry) => {
                  const current = location === entry.href || location.startsWith(`${entry.href}/`);
                  return (
                    <li key={entry.href}>
                      <Link href={entry.href} aria-current={current ? 'page' : undefined}>
                        {t(entry.labelKey)}
                      </Link>
                    </li>
                  );
                })}
              </ul>
            </div>
          );
        })}
      </nav>
      <main id="main" ref={main} tabIndex={-1}>
        {props.children}
      </main>
    </div>
  );
}
