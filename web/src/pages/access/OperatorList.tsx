import { useState } from 'react';
import { useCan, useSession } from '../../app/session.tsx';
import {
  CodeBlock,
  ConfirmAction,
  DataTable,
  FormSection,
  Page,
  SelectField,
  StatusBadge,
  TextField,
  useFormState,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { present } from '../ops-kit/format.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Flash, asTyped } from '../ops-kit/kit.tsx';
import { operatorRoles, type OperatorRow } from './types.ts';

/** Operators: role, MFA, last sign-in; add one (a one-time password shown once), remove one, reset MFA. */
export default function OperatorList() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const session = useSession();
  const [flash, setFlash] = useState<string | null>(null);
  const result = useTablePage('/api/v1/operators', { topics: ['operators'] });
  const add = useFormState(
    { username: '', role: 'operator', password: '' },
    (api, values) => api.post('/api/v1/operators', { body: asTyped(present(values)) }),
    {
      onSuccess: (added) => {
        setFlash(t('operators.added', { username: added.operator.username }));
        result.refetch();
      },
    },
  );
  const writable = can('operators.write');
  const columns: Column<OperatorRow>[] = [
    { key: 'username', header: t('operators.col.username'), rowHeader: true, render: (o) => o.username },
    { key: 'role', header: t('operators.col.role'), render: (o) => t(`roles.${o.role}`) },
    {
      key: 'mfa',
      header: t('operators.col.mfa'),
      render: (o) => (
        <StatusBadge
          state={o.mfa ? t('operators.mfa.on') : t('operators.mfa.off')}
          tone={o.mfa ? 'good' : 'warn'}
        />
      ),
    },
    {
      key: 'lastLogin',
      header: t('operators.col.lastLogin'),
      render: (o) =>
        `${formatDate(o.lastLoginAt)}${o.mustChangePassword ? ` · ${t('operators.mustChange')}` : ''}`,
    },
    { key: 'locked', header: t('operators.col.locked'), render: (o) => formatDate(o.lockedUntil) },
    { key: 'created', header: t('operators.col.created'), render: (o) => formatDate(o.createdAt) },
    {
      key: 'actions',
      header: t('operators.col.actions'),
      render: (o) =>
        writable && o.username !== session.username ? (
          <span className="row-actions">
            {o.mfa ? (
              <ConfirmAction
                label={t('operators.resetMfa')}
                ariaLabel={`${t('operators.resetMfa')}: ${o.username}`}
                title={t('operators.resetMfa.confirm', { username: o.username })}
                run={(api) =>
                  api.post('/api/v1/operators/{username}/mfa/reset', { params: { username: o.username } })
                }
                onDone={() => {
                  setFlash(t('operators.mfaReset', { username: o.username }));
                  result.refetch();
                }}
              />
            ) : null}
            <ConfirmAction
              danger
              label={t('operators.remove')}
              ariaLabel={`${t('operators.remove')}: ${o.username}`}
              title={t('operators.remove.confirm', { username: o.username })}
              run={(api) => api.delete('/api/v1/operators/{username}', { params: { username: o.username } })}
              onDone={() => {
                setFlash(t('operators.removed', { username: o.username }));
                result.refetch();
              }}
            />
          </span>
        ) : null,
    },
  ];
  return (
    <Page title={t('operators.title')}>
      <Flash text={flash} />
      {add.data?.password ? (
        <div className="banner banner-warn" role="alert">
          <p>{t('operators.oneTimePassword', { username: add.data.operator.username })}</p>
          <CodeBlock label={t('operators.oneTimePassword', { username: add.data.operator.username })}>
            {add.data.password}
          </CodeBlock>
        </div>
      ) : null}
      <DataTable
        label={t('operators.title')}
        columns={columns}
        result={result}
        rowKey={(o) => o.username}
        empty={t('operators.empty')}
      />
      {writable ? (
        <FormSection
          id="operator-add"
          title={t('operators.add')}
          {...add.form}
          submitLabel={t('operators.add')}
          busy={add.pending}
        >
          <TextField
            {...add.field('username')}
            label={t('operators.add.username')}
            autoComplete="off"
            required
          />
          <SelectField
            {...add.field('role')}
            label={t('operators.add.role')}
            options={operatorRoles.map((role) => ({ value: role, label: t(`roles.${role}`) }))}
          />
          <TextField
            {...add.field('password')}
            type="password"
            autoComplete="new-password"
            label={t('operators.add.password')}
          />
        </FormSection>
      ) : null}
    </Page>
  );
}
