import { useI18n } from '../../app/i18n.tsx';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  Button,
  DataTable,
  FormSection,
  ListTable,
  Page,
  TextField,
  useFormState,
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
  const result = useTablePage('/api/v1/tenants/{tenant}/groups', {
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
  const add = useFormState(
    { group: '', role: '', stage: '' },
    (api, { group, role, stage }) =>
      api.post('/api/v1/tenants/{tenant}/identity/roles', {
        params,
        body: { group, role, ...(stage.trim() ? { stage: stage.trim() } : {}) },
      }),
    { onSuccess: list.refetch, keep: ['stage'] },
  );
  const remove = useMutation(
    (api, m: RoleMapping) =>
      api.delete('/api/v1/tenants/{tenant}/identity/roles', {
        params,
        query: { group: m.group, role: m.role, ...(m.stage ? { stage: m.stage } : {}) },
      }),
    { onSuccess: () => list.refetch() },
  );
  const writable = can('identity.write');
  return (
    <section aria-labelledby="ta-roles">
      <h2 id="ta-roles">{t('ta.roles.title')}</h2>
      <p>{t('ta.roles.intro')}</p>
      <ListTable
        label={t('ta.roles.title')}
        result={{ error: list.error ?? remove.error, loading: list.loading }}
        rows={list.data?.mappings ?? []}
        rowKey={(m) => `${m.group}\u0000${m.role}\u0000${m.stage ?? ''}`}
        empty={t('ta.roles.empty')}
        columns={[
          { key: 'group', header: t('ta.roles.field.group'), rowHeader: true, render: (m) => m.group },
          { key: 'role', header: t('ta.roles.field.role'), render: (m) => m.role },
          { key: 'stage', header: t('ta.field.stage'), render: (m) => m.stage ?? t('ta.field.allStages') },
          writable && {
            key: 'actions',
            header: t('ta.field.actions'),
            render: (m) => (
              <Button
                variant="link"
                aria-label={t('ta.roles.remove.label', { role: m.role, group: m.group })}
                busy={remove.pending}
                onClick={() => void remove.mutate(m)}
              >
                {t('ta.roles.remove')}
              </Button>
            ),
          },
        ]}
      />
      {writable ? (
        <FormSection
          level={3}
          title={t('ta.roles.add.title')}
          {...add.form}
          submitLabel={t('ta.roles.add.submit')}
          busy={add.pending}
        >
          <TextField {...add.field('group')} label={t('ta.roles.field.group')} required />
          <TextField {...add.field('role')} label={t('ta.roles.field.role')} required />
          <TextField
            {...add.field('stage')}
            label={t('ta.field.stage')}
            hint={t('ta.roles.field.stageHint')}
          />
        </FormSection>
      ) : null}
    </section>
  );
}
