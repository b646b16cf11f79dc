import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  Button,
  CodeBlock,
  ConfirmAction,
  FormSection,
  ListTable,
  Page,
  StatusBadge,
  TextField,
  numberOrTyped,
  useFormState,
} from '../../ui/index.ts';
import { TenantScope } from '../ta-common/scope.tsx';
import { tokenState } from './rules.ts';

/**
 * The tenant's SCIM tokens: create one (its secret shown once, here, with
 * the base URL to give the identity provider), see when each was last used,
 * revoke one.
 */
export default function ScimTokens() {
  const { t } = useI18n();
  return <TenantScope title={t('ta.scim.title')}>{(tenant) => <Tokens tenant={tenant} />}</TenantScope>;
}

function Tokens(props: { readonly tenant: string }) {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const params = { tenant: props.tenant };
  const list = useQuery(
    ['scim-tokens', props.tenant],
    async (api, signal) => await api.get('/api/v1/tenants/{tenant}/scim-tokens', { params, signal }),
    { topics: ['scim-tokens'] },
  );
  const create = useFormState(
    { name: '', expiresInDays: '' },
    (api, values) => {
      const expiresInDays = numberOrTyped(values.expiresInDays);
      return api.post('/api/v1/tenants/{tenant}/scim-tokens', {
        params,
        body: {
          ...(values.name.trim() ? { name: values.name.trim() } : {}),
          ...(expiresInDays !== undefined ? { expiresInDays } : {}),
        },
      });
    },
    { onSuccess: list.refetch },
  );
  const issued = create.data;
  const now = Date.now();
  const writable = can('identity.write');
  return (
    <Page title={t('ta.scim.title')}>
      <p>{t('ta.scim.intro')}</p>
      {issued ? (
        <section className="card issued" aria-labelledby="scim-issued" role="status">
          <h2 id="scim-issued">{t('ta.scim.issued.title', { name: issued.name })}</h2>
          <p>
            <strong>{t('ta.scim.issued.once')}</strong>
          </p>
          <h3>{t('ta.scim.issued.token')}</h3>
          <CodeBlock label={t('ta.scim.issued.token')}>{issued.token}</CodeBlock>
          <h3>{t('ta.scim.issued.url')}</h3>
          <CodeBlock label={t('ta.scim.issued.url')}>{issued.url}</CodeBlock>
          <Button onClick={create.reset}>{t('ta.done')}</Button>
        </section>
      ) : null}
      {writable ? (
        <FormSection
          id="scim-create"
          title={t('ta.scim.create.title')}
          {...create.form}
          submitLabel={t('ta.scim.create.submit')}
          busy={create.pending}
        >
          <TextField
            {...create.field('name')}
            label={t('ta.scim.create.name')}
            hint={t('ta.scim.create.nameHint')}
            maxLength={64}
          />
          <TextField
            {...create.field('expiresInDays')}
            label={t('ta.scim.create.days')}
            hint={t('ta.scim.create.daysHint')}
            inputMode="numeric"
          />
        </FormSection>
      ) : null}
      <section aria-labelledby="scim-list">
        <h2 id="scim-list">{t('ta.scim.list.title')}</h2>
        <ListTable
          label={t('ta.scim.list.title')}
          result={list}
          rows={list.data?.tokens ?? []}
          rowKey={(token) => token.id}
          empty={t('ta.scim.list.empty')}
          columns={[
            { key: 'name', header: t('ta.scim.field.name'), rowHeader: true, render: (token) => token.name },
            {
              key: 'state',
              header: t('ta.field.state'),
              render: (token) => {
                const state = tokenState(token, now);
                return (
                  <StatusBadge
                    state={t(`ta.scim.state.${state}`)}
                    tone={state === 'active' ? 'good' : 'idle'}
                  />
                );
              },
            },
            { key: 'createdBy', header: t('ta.field.createdBy'), render: (token) => token.createdBy },
            {
              key: 'createdAt',
              header: t('ta.field.createdAt'),
              render: (token) => formatDate(token.createdAt),
            },
            {
              key: 'expiresAt',
              header: t('ta.scim.field.expiresAt'),
              render: (token) => (token.expiresAt ? formatDate(token.expiresAt) : t('ta.never')),
            },
            {
              key: 'lastUsedAt',
              header: t('ta.scim.field.lastUsedAt'),
              render: (token) => (token.lastUsedAt ? formatDate(token.lastUsedAt) : t('ta.never')),
            },
            writable && {
              key: 'actions',
              header: t('ta.field.actions'),
              render: (token) =>
                tokenState(token, now) === 'active' ? (
                  <ConfirmAction
                    danger
                    label={t('ta.scim.revoke')}
                    ariaLabel={t('ta.scim.revoke.label', { name: token.name })}
                    title={t('ta.scim.revoke.title', { name: token.name })}
                    run={(api) =>
                      api.delete('/api/v1/tenants/{tenant}/scim-tokens/{id}', {
                        params: { ...params, id: token.id },
                      })
                    }
                    onDone={list.refetch}
                  >
                    <p>{t('ta.scim.revoke.text')}</p>
                  </ConfirmAction>
                ) : null,
            },
          ]}
        />
      </section>
    </Page>
  );
}
