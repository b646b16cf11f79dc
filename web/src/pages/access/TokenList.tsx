import { useState } from 'react';
import { useCan } from '../../app/session.tsx';
import {
  CodeBlock,
  ConfirmAction,
  DataTable,
  FormSection,
  Page,
  SelectField,
  StatusBadge,
  TextField,
  numberOrTyped,
  useFormState,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Flash, asTyped } from '../ops-kit/kit.tsx';
import { operatorRoles, tokenScopes, type TokenRow } from './types.ts';

/**
 * API tokens (owners see everyone's, others their own): create one (its
 * secret shown once, here, never again), revoke one. Another operator's
 * token is revoked through the operator's route.
 */
export default function TokenList() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const [flash, setFlash] = useState<string | null>(null);
  const result = useTablePage('/api/v1/tokens', { topics: ['tokens'] });
  const create = useFormState(
    { name: '', role: '', scope: '', expiresInDays: '' },
    (api, f) =>
      api.post('/api/v1/tokens', {
        body: asTyped({
          name: f.name,
          ...(f.role ? { role: f.role } : {}),
          ...(f.scope ? { scope: f.scope } : {}),
          ...(f.expiresInDays ? { expiresInDays: numberOrTyped(f.expiresInDays) } : {}),
        }),
      }),
    { onSuccess: result.refetch },
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
      <FormSection
        id="token-create"
        title={t('tokens.create')}
        {...create.form}
        submitLabel={t('tokens.create')}
        busy={create.pending}
      >
        <TextField {...create.field('name')} label={t('tokens.create.name')} autoComplete="off" required />
        <SelectField
          {...create.field('role')}
          label={t('tokens.create.role')}
          options={[
            { value: '', label: '–' },
            ...operatorRoles.map((role) => ({ value: role, label: t(`roles.${role}`) })),
          ]}
        />
        <SelectField
          {...create.field('scope')}
          label={t('tokens.create.scope')}
          options={[
            { value: '', label: '–' },
            ...tokenScopes.map((scope) => ({ value: scope, label: scope })),
          ]}
        />
        <TextField
          {...create.field('expiresInDays')}
          label={t('tokens.create.expires')}
          inputMode="numeric"
        />
      </FormSection>
    </Page>
  );
}
