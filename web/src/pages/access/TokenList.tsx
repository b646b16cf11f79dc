import { useState } from 'react';
import type { ConsoleApi } from '../../app/api.ts';
import { useMutation } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  Button,
  CodeBlock,
  DataTable,
  Form,
  Page,
  SelectField,
  StatusBadge,
  TextField,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import { ConfirmAction, Flash, asTyped, useFormValues } from '../ops-kit/kit.tsx';
import { operatorRoles, tokenScopes, type TokenRow } from './types.ts';

const emptyForm = { name: '', role: '', scope: '', expiresInDays: '' };

/**
 * API tokens (owners see everyone's, others their own): create one (its
 * secret shown once, here, never again), revoke one. Another operator's
 * token is revoked through the operator's route.
 */
export default function TokenList() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const [flash, setFlash] = useState<string | null>(null);
  const { values: form, field, reset } = useFormValues(emptyForm);
  const result = useTablePage('/api/v1/tokens', { topics: ['tokens'] });
  const create = useMutation(
    (api: ConsoleApi, f: typeof emptyForm) =>
      api.post('/api/v1/tokens', {
        body: asTyped({
          name: f.name,
          ...(f.role ? { role: f.role } : {}),
          ...(f.scope ? { scope: f.scope } : {}),
          ...(f.expiresInDays
            ? { expiresInDays: /^\d+$/.test(f.expiresInDays) ? Number(f.expiresInDays) : f.expiresInDays }
            : {}),
        }),
      }),
    {
      onSuccess: () => {
        reset();
        result.refetch();
      },
    },
  );
  const columns: Column<TokenRow>[] = [
    { key: 'name', header: t('tokens.col.name'), rowHeader: true, render: (k) => k.name },
    { key: 'operator', header: t('tokens.col.operator'), render: (k) => k.operator },
    { key: 'kind', header: t('tokens.col.kind'), render: (k) => k.kind },
    { key: 'role', header: t('tokens.col.role'), render: (k) => t(`roles.${k.role}`) },
    { key: 'scope', header: t('tokens.col.scope'), render: (k) => k.scope ?? '–' },
    { key: 'prefix', header: t('tokens.col.prefix'), render: (k) => <code>{k.prefix}</code> },
    { key: 'expires', header: t('tokens.col.expires'), render: (k) => formatDate(k.expiresAt) },
    {
      key: 'lastUsed',
      header: t('tokens.col.lastUsed'),
      render: (k) => (k.lastUsedAt ? formatDate(k.lastUsedAt) : t('tokens.never')),
    },
    {
      key: 'state',
      header: t('tokens.col.state'),
      render: (k) =>
        k.revokedAt ? (
          <StatusBadge state={t('tokens.state.revoked')} tone="idle" />
        ) : (
          <StatusBadge state={t('tokens.state.active')} tone="good" />
        ),
    },
    {
      key: 'actions',
      header: t('operators.col.actions'),
      render: (k) =>
        k.revokedAt || k.kind === 'session' ? null : (
          <ConfirmAction
            danger
            label={t('tokens.revoke')}
            ariaLabel={`${t('tokens.revoke')}: ${k.name} (${k.operator})`}
            title={t('tokens.revoke.confirm', { name: k.name })}
            run={(api) =>
              can('operators.write')
                ? api.delete('/api/v1/operators/{username}/tokens/{id}', {
                    params: { username: k.operator, id: k.id },
                  })
                : api.delete('/api/v1/tokens/{id}', { params: { id: k.id } })
            }
            onDone={() => {
              setFlash(t('tokens.revoked', { name: k.name }));
              result.refetch();
            }}
          />
        ),
    },
  ];
  return (
    <Page title={t('tokens.title')}>
      <Flash text={flash} />
      {create.data ? (
        <div className="banner banner-warn" role="alert">
          <p>{t('tokens.created', { name: create.data.name })}</p>
          <CodeBlock label={t('tokens.secret')}>{create.data.token}</CodeBlock>
        </div>
      ) : null}
      <DataTable
        label={t('tokens.title')}
        columns={columns}
        result={result}
        rowKey={(k) => k.id}
        empty={t('tokens.empty')}
      />
      <section aria-labelledby="token-create">
        <h2 id="token-create">{t('tokens.create')}</h2>
        <Form label={t('tokens.create')} error={create.error} onSubmit={() => create.mutate(form)}>
          <TextField {...field('name')} label={t('tokens.create.name')} autoComplete="off" required />
          <SelectField
            {...field('role')}
            label={t('tokens.create.role')}
            options={[
              { value: '', label: '–' },
              ...operatorRoles.map((role) => ({ value: role, label: t(`roles.${role}`) })),
            ]}
          />
          <SelectField
            {...field('scope')}
            label={t('tokens.create.scope')}
            options={[
              { value: '', label: '–' },
              ...tokenScopes.map((scope) => ({ value: scope, label: scope })),
            ]}
          />
          <TextField {...field('expiresInDays')} label={t('tokens.create.expires')} inputMode="numeric" />
          <Button type="submit" variant="primary" busy={create.pending}>
            {t('tokens.create')}
          </Button>
        </Form>
      </section>
    </Page>
  );
}
