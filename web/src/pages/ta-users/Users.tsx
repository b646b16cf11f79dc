import { useState } from 'react';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  Button,
  ConfirmDialog,
  DataTable,
  ErrorBanner,
  Form,
  Page,
  StatusBadge,
  TextField,
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
  const result = useTablePage<UserRow>('/api/v1/tenants/{tenant}/users', {
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
  const [userName, setUserName] = useState('');
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [requireMfa, setRequireMfa] = useState(false);
  const add = useMutation(
    (api, body: { userName: string; email: string; name?: string; requireMfa: boolean }) =>
      api.post('/api/v1/tenants/{tenant}/users', { params: { tenant: props.tenant }, body }),
    {
      onSuccess: () => {
        setUserName('');
        setEmail('');
        setName('');
        setRequireMfa(false);
        props.onAdded();
      },
    },
  );
  return (
    <section aria-labelledby="ta-add-user">
      <h2 id="ta-add-user">{t('ta.users.add.title')}</h2>
      <p>{t('ta.users.add.intro')}</p>
      {add.data ? (
        <p className="banner" role="status">
          {t('ta.users.added', { user: add.data.user.userName })}
        </p>
      ) : null}
      <Form
        onSubmit={() =>
          add.mutate({ userName, email, ...(name.trim() ? { name: name.trim() } : {}), requireMfa })
        }
        error={add.error}
        label={t('ta.users.add.title')}
      >
        <TextField
          name="userName"
          label={t('ta.users.field.userName')}
          value={userName}
          onValue={setUserName}
          required
        />
        <TextField
          name="email"
          label={t('ta.users.field.email')}
          type="email"
          value={email}
          onValue={setEmail}
          required
        />
        <TextField name="name" label={t('ta.users.field.name')} value={name} onValue={setName} />
        <div className="field">
          <label className="inline">
            <input
              type="checkbox"
              checked={requireMfa}
              onChange={(event) => setRequireMfa(event.target.checked)}
            />{' '}
            {t('ta.users.field.requireMfa')}
          </label>
        </div>
        <Button type="submit" variant="primary" busy={add.pending}>
          {t('ta.users.add.submit')}
        </Button>
      </Form>
    </section>
  );
}
