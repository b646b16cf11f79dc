import { useState } from 'react';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  Button,
  DataTable,
  ErrorBanner,
  Form,
  Page,
  TextField,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { TenantScope } from '../ta-common/scope.tsx';
import type { GroupRow, RoleMapping } from '../ta-common/types.ts';

/** The tenant's groups with their member counts, and the roles its groups have in the app. */
export default function Groups() {
  const { t } = useI18n();
  return (
    <TenantScope title={t('ta.groups.title')}>
      {(tenant) => (
        <Page title={t('ta.groups.title')}>
          <GroupList tenant={tenant} />
          <Roles tenant={tenant} />
        </Page>
      )}
    </TenantScope>
  );
}

function GroupList(props: { readonly tenant: string }) {
  const { t, formatDate, formatNumber } = useI18n();
  const result = useTablePage<GroupRow>('/api/v1/tenants/{tenant}/groups', {
    params: { tenant: props.tenant },
    topics: ['groups'],
  });
  const columns: Column<GroupRow>[] = [
    { key: 'name', header: t('ta.groups.field.name'), rowHeader: true, render: (g) => g.displayName },
    { key: 'source', header: t('ta.groups.field.source'), render: (g) => g.source },
    { key: 'members', header: t('ta.groups.field.members'), render: (g) => formatNumber(g.members) },
    { key: 'updated', header: t('ta.groups.field.updatedAt'), render: (g) => formatDate(g.updatedAt) },
  ];
  return (
    <DataTable
      label={t('ta.groups.title')}
      columns={columns}
      result={result}
      rowKey={(g) => g.id}
      empty={t('ta.groups.empty')}
    />
  );
}

function Roles(props: { readonly tenant: string }) {
  const { t } = useI18n();
  const can = useCan();
  const params = { tenant: props.tenant };
  const list = useQuery(
    ['roles', props.tenant],
    async (api, signal) => await api.get('/api/v1/tenants/{tenant}/identity/roles', { params, signal }),
    { topics: ['identity', 'groups'] },
  );
  const [group, setGroup] = useState('');
  const [role, setRole] = useState('');
  const [stage, setStage] = useState('');
  const add = useMutation(
    (api, body: { group: string; role: string; stage?: string }) =>
      api.post('/api/v1/tenants/{tenant}/identity/roles', { params, body }),
    {
      onSuccess: () => {
        setGroup('');
        setRole('');
        list.refetch();
      },
    },
  );
  const remove = useMutation(
    (api, m: RoleMapping) =>
      api.delete('/api/v1/tenants/{tenant}/identity/roles', {
        params,
        query: { group: m.group, role: m.role, ...(m.stage ? { stage: m.stage } : {}) },
      }),
    { onSuccess: () => list.refetch() },
  );
  const mappings = list.data?.mappings ?? [];
  return (
    <section aria-labelledby="ta-roles">
      <h2 id="ta-roles">{t('ta.roles.title')}</h2>
      <p>{t('ta.roles.intro')}</p>
      <ErrorBanner error={list.error ?? remove.error} />
      {!list.loading && mappings.length === 0 ? <p className="muted">{t('ta.roles.empty')}</p> : null}
      {mappings.length ? (
        <div className="table-scroll">
          <table aria-label={t('ta.roles.title')}>
            <thead>
              <tr>
                <th scope="col">{t('ta.roles.field.group')}</th>
                <th scope="col">{t('ta.roles.field.role')}</th>
                <th scope="col">{t('ta.field.stage')}</th>
                {can('identity.write') ? <th scope="col">{t('ta.field.actions')}</th> : null}
              </tr>
            </thead>
            <tbody>
              {mappings.map((m) => (
                <tr key={`${m.group}\u0000${m.role}\u0000${m.stage ?? ''}`}>
                  <th scope="row">{m.group}</th>
                  <td>{m.role}</td>
                  <td>{m.stage ?? t('ta.field.allStages')}</td>
                  {can('identity.write') ? (
                    <td>
                      <Button
                        variant="link"
                        aria-label={t('ta.roles.remove.label', { role: m.role, group: m.group })}
                        busy={remove.pending}
                        onClick={() => void remove.mutate(m)}
                      >
                        {t('ta.roles.remove')}
                      </Button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {can('identity.write') ? (
        <>
          <h3>{t('ta.roles.add.title')}</h3>
          <Form
            onSubmit={() => add.mutate({ group, role, ...(stage.trim() ? { stage: stage.trim() } : {}) })}
            error={add.error}
            label={t('ta.roles.add.title')}
          >
            <TextField
              name="group"
              label={t('ta.roles.field.group')}
              value={group}
              onValue={setGroup}
              required
            />
            <TextField name="role" label={t('ta.roles.field.role')} value={role} onValue={setRole} required />
            <TextField
              name="stage"
              label={t('ta.field.stage')}
              hint={t('ta.roles.field.stageHint')}
              value={stage}
              onValue={setStage}
            />
            <Button type="submit" variant="primary" busy={add.pending}>
              {t('ta.roles.add.submit')}
            </Button>
          </Form>
        </>
      ) : null}
    </section>
  );
}
