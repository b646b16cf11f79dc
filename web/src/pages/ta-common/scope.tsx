import type { ReactNode } from 'react';
import { useParams } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useSession } from '../../app/session.tsx';
import { Page } from '../../ui/index.ts';
import { scopeRefusal } from './rules.ts';

export { consolePath } from './rules.ts';

/** The `:tenant` of the URL, decoded. */
export function useTenantParam(): string {
  const params = useParams<{ tenant?: string }>();
  return params.tenant ?? '';
}

/**
 * A tenant admin's page: renders `children(tenant)` for its own tenant, a
 * refusal for any other. The title is the page's, so the refusal is still a
 * page (heading, document title) a screen reader announces.
 */
export function TenantScope(props: {
  readonly title: string;
  readonly children: (tenant: string) => ReactNode;
}) {
  const { t } = useI18n();
  const session = useSession();
  const tenant = useTenantParam();
  if (scopeRefusal(session.tenant, tenant) !== 'none') {
    return (
      <Page title={t('ta.refused.title')}>
        <div className="banner banner-error" role="alert">
          <strong>{t('ui.error.forbidden')}</strong>{' '}
          {t('ta.refused.text', { tenant, own: session.tenant ?? '—' })}
        </div>
      </Page>
    );
  }
  return <>{props.children(tenant)}</>;
}
