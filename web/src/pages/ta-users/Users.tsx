import { useState } from 'react';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  Button,
  CheckField,
  ConfirmDialog,
  DataTable,
  ErrorBanner,
  FormSection,
  Page,
  StatusBadge,
  TextField,
  useFormState,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { TenantScope } from '../ta-common/scope.tsx';
import type { UserRow } from '../ta-common/types.ts';
import { actionsFor, userState, type UserAction } from './rules.ts';

/** These change what the user can do at once, so they ask first. */
const confirmed: ReadonlySet<UserAction> = new Set(['reset-mfa', 'disable', 'delete']);

export default function Users() {
  const { t } = useI18n();
  return <TenantScope title={t('ta.users.title')}>{(tenant) => <UserList tenant={tenant} />}</TenantScope>;
}

function UserList(props: { readonly tenant: string }) {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const params = { tenant: props.tenant };
  const result = useTablePage('/api/v1/tenants/{tenant}/users', {
    params,
    topics: ['users', 'groups'],
  });
  const [pending, setPending] = useState<{ user: UserRow; action: UserAction } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const act = useMutation(
    (api, { user, action }: { user: UserRow; action: UserAction }) => {
      const target = { params: { ...params, userName: user.userName } };
      // What each answers differs (a mailed link, the user); the page only says it is done.
      return action === 'delete'
        ? api.delete('/api/v1/tenants/{tenant}/users/{userName}', target).then(() => undefined)
        : api.post(`/api/v1/tenants/{tenant}/users/{userName}/${action}`, target).then(() => undefined);
    },
    {
      onSuccess: (_, { user, action }) => {
        setPending(null);
        setDone(t('ta.users.action.done', { action: t(`ta.users.action.${action}`), user: user.userName }));
        result.refetch();
      },
    },
  );
  const run = (user: UserRow, action: UserAction) => {
    act.reset();
    setDone(null);
    if (confirmed.has(action)) setPending({ user, action });
    else void act.mutate({ user, action });
  };
  const now = Date.now();
  const columns: Column<UserRow>[] = [
    { key: 'userName', header: t('ta.users.field.userName'), rowHeader: true, render: (u) => u.userName },
    { key: 'name', header: t('ta.users.field.name'), render: (u) => u.displayName ?? '' },
    { key: 'email', header: t('ta.users.field.email'), render: (u) => u.email ?? '' },
    {
      key: 'state',
      header: t('ta.field.state'),
      render: (u) => {
        const state = userState(u, now);
        return (
          <StatusBadge
            state={t(`ta.users.state.${state}`)}
            tone={state === 'active' ? 'good' : state === 'invited' ? 'busy' : 'warn'}
          />
        );
      },
    },
    { key: 'source', header: t('ta.users.field.source'), render: (u) => u.source },
    { key: 'groups', header: t('ta.users.field.groups'), render: (u) => u.groups.join(', ') },
    { key: 'mfa', header: t('ta.users.field.mfa'), render: (u) => (u.mfa ? t('ta.yes') : t('ta.no')) },
    {
      key: 'lastSignIn',
      header: t('ta.users.field.lastSignIn'),
      render: (u) => (u.lastSignInAt ? formatDate(u.lastSignInAt) : t('ta.never')),
    },
  ];
  if (can('identity.write')) {
    columns.push({
      key: 'actions',
      header: t('ta.field.actions'),
      render: (u) => (
        <details className="menu">
          <summary aria-label={t('ta.users.actions.label', { user: u.userName })}>
            {t('ta.field.actions')}
          </summary>
          <ul>
            {actionsFor(u).map((action) => (
              <li key={action}>
                <Button variant={action === 'delete' ? 'danger' : 'link'} onClick={() => run(u, action)}>
                  {t(`ta.users.action.${action}`)}
                </Button>
              </li>
            ))}
          </ul>
        </details>
      ),
    });
  }
  const confirming = pending?.action;
  return (
    <Page title={t('ta.users.title')}>
      {done ? (
        <p className="banner" role="status">
          {done}
        </p>
      ) : null}
      {act.error && !pending ? <ErrorBanner error={act.error} /> : null}
      <DataTable
        label={t('ta.users.title')}
        columns={columns}
        result={result}
        rowKey={(u) => u.id}
        empty={t('ta.users.empty')}
      />
      {can('identity.write') ? <AddUser tenant={props.tenant} onAdded={result.refetch} /> : null}
      <ConfirmDialog
        open={pending !== null}
        title={
          pending
            ? t('ta.users.confirm.title', {
                action: t(`ta.users.action.${pending.action}`),
                user: pending.user.userName,
              })
            : ''
        }
        confirmLabel={confirming ? t(`ta.users.action.${confirming}`) : ''}
        danger
        busy={act.pending}
        error={act.error}
        onConfirm={() => pending && void act.mutate(pending)}
        onCancel={() => setPending(null)}
      >
        <p>
          {confirming === 'delete' || confirming === 'reset-mfa' || confirming === 'disable'
            ? t(`ta.users.confirm.${confirming}`)
            : t('ta.users.confirm.other')}
        </p>
      </ConfirmDialog>
    </Page>
  );
}

function AddUser(props: { readonly tenant: string; readonly onAdded: () => void }) {
  const { t } = useI18n();
  const add = useFormState(
    { userName: '', email: '', name: '', requireMfa: false },
    (api, { userName, email, name, requireMfa }) =>
      api.post('/api/v1/tenants/{tenant}/users', {
        params: { tenant: props.tenant },
        body: { userName, email, ...(name.trim() ? { name: name.trim() } : {}), requireMfa },
      }),
    { onSuccess: props.onAdded },
  );
  return (
    <FormSection
      id="ta-add-user"
      title={t('ta.users.add.title')}
      intro={<p>{t('ta.users.add.intro')}</p>}
      notice={
        add.data ? (
          <p className="banner" role="status">
            {t('ta.users.added', { user: add.data.user.userName })}
          </p>
        ) : null
      }
      {...add.form}
      submitLabel={t('ta.users.add.submit')}
      busy={add.pending}
    >
      <TextField {...add.field('userName')} label={t('ta.users.field.userName')} required />
      <TextField {...add.field('email')} label={t('ta.users.field.email')} type="email" required />
      <TextField {...add.field('name')} label={t('ta.users.field.name')} />
      <CheckField {...add.check('requireMfa')} label={t('ta.users.field.requireMfa')} />
    </FormSection>
  );
}
