import { useState } from 'react';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { Button, CodeBlock, ConfirmDialog, Form, Page, StatusBadge, TextField } from '../../ui/index.ts';
import { Listed } from '../ta-common/Listed.tsx';
import { TenantScope } from '../ta-common/scope.tsx';
import type { ScimTokenRow } from '../ta-common/types.ts';
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
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const create = useMutation(
    async (api, body: { name?: string; expiresInDays?: number }) =>
      await api.post('/api/v1/tenants/{tenant}/scim-tokens', { params, body }),
    {
      onSuccess: () => {
        setName('');
        setDays('');
        list.refetch();
      },
    },
  );
  const [revoking, setRevoking] = useState<ScimTokenRow | null>(null);
  const revoke = useMutation(
    (api, token: ScimTokenRow) =>
      api.delete('/api/v1/tenants/{tenant}/scim-tokens/{id}', { params: { ...params, id: token.id } }),
    {
      onSuccess: () => {
        setRevoking(null);
        list.refetch();
      },
    },
  );
  const submit = () => {
    // A number the API checks; what is not one goes as typed, so its message names it.
    const trimmed = days.trim();
    const expiresInDays =
      trimmed === '' ? undefined : Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
    return create.mutate({
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(expiresInDays !== undefined ? { expiresInDays: expiresInDays as number } : {}),
    });
  };
  const issued = create.data;
  const now = Date.now();
  const tokens = list.data?.tokens ?? [];
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
      {can('identity.write') ? (
        <section aria-labelledby="scim-create">
          <h2 id="scim-create">{t('ta.scim.create.title')}</h2>
          <Form onSubmit={submit} error={create.error} label={t('ta.scim.create.title')}>
            <TextField
              name="name"
              label={t('ta.scim.create.name')}
              hint={t('ta.scim.create.nameHint')}
              value={name}
              onValue={setName}
              maxLength={64}
            />
            <TextField
              name="expiresInDays"
              label={t('ta.scim.create.days')}
              hint={t('ta.scim.create.daysHint')}
              value={days}
              onValue={setDays}
              inputMode="numeric"
            />
            <Button type="submit" variant="primary" busy={create.pending}>
              {t('ta.scim.create.submit')}
            </Button>
          </Form>
        </section>
      ) : null}
      <section aria-labelledby="scim-list">
        <h2 id="scim-list">{t('ta.scim.list.title')}</h2>
        <Listed result={list} count={tokens.length} empty={t('ta.scim.list.empty')}>
          <div className="table-scroll">
            <table aria-label={t('ta.scim.list.title')}>
              <thead>
                <tr>
                  <th scope="col">{t('ta.scim.field.name')}</th>
                  <th scope="col">{t('ta.field.state')}</th>
                  <th scope="col">{t('ta.field.createdBy')}</th>
                  <th scope="col">{t('ta.field.createdAt')}</th>
                  <th scope="col">{t('ta.scim.field.expiresAt')}</th>
                  <th scope="col">{t('ta.scim.field.lastUsedAt')}</th>
                  {can('identity.write') ? <th scope="col">{t('ta.field.actions')}</th> : null}
                </tr>
              </thead>
              <tbody>
                {tokens.map((token) => {
                  const state = tokenState(token, now);
                  return (
                    <tr key={token.id}>
                      <th scope="row">{token.name}</th>
                      <td>
                        <StatusBadge
                          state={t(`ta.scim.state.${state}`)}
                          tone={state === 'active' ? 'good' : 'idle'}
                        />
                      </td>
                      <td>{token.createdBy}</td>
                      <td>{formatDate(token.createdAt)}</td>
                      <td>{token.expiresAt ? formatDate(token.expiresAt) : t('ta.never')}</td>
                      <td>{token.lastUsedAt ? formatDate(token.lastUsedAt) : t('ta.never')}</td>
                      {can('identity.write') ? (
                        <td>
                          {state === 'active' ? (
                            <Button
                              variant="danger"
                              aria-label={t('ta.scim.revoke.label', { name: token.name })}
                              onClick={() => {
                                revoke.reset();
                                setRevoking(token);
                              }}
                            >
                              {t('ta.scim.revoke')}
                            </Button>
                          ) : null}
                        </td>
                      ) : null}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </Listed>
      </section>
      <ConfirmDialog
        open={revoking !== null}
        title={t('ta.scim.revoke.title', { name: revoking?.name ?? '' })}
        confirmLabel={t('ta.scim.revoke')}
        danger
        busy={revoke.pending}
        error={revoke.error}
        onConfirm={() => revoking && void revoke.mutate(revoking)}
        onCancel={() => setRevoking(null)}
      >
        <p>{t('ta.scim.revoke.text')}</p>
      </ConfirmDialog>
    </Page>
  );
}
