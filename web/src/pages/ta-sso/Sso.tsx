import { useState } from 'react';
import type { paths } from '../../../../src/api/client/schema.ts';
import type { RequestBody, ResponseBody } from '../../../../src/api/client/typed.ts';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import {
  CheckField,
  ConfirmAction,
  FormSection,
  ListTable,
  Page,
  SelectField,
  TextField,
  useFormState,
} from '../../ui/index.ts';
import { TenantScope } from '../ta-common/scope.tsx';
import { settingsPatch, type SettingsForm } from './rules.ts';

/** As src/identity/sessions/claims.ts and settings.ts. */
const signInModes = ['required', 'optional', 'off'] as const;
const mfaModes = ['required', 'optional'] as const;
/** As src/identity/oidc/issuer.ts. */
const connectionKinds = ['generic', 'entra', 'okta'] as const;

/** The tenant's own layer of the sign-in settings, as GET …/identity returns it. */
type Layer = ResponseBody<paths, '/api/v1/tenants/{tenant}/identity'>['tenantSettings'];

export default function Sso() {
  const { t } = useI18n();
  return (
    <TenantScope title={t('ta.sso.title')}>
      {(tenant) => (
        <Page title={t('ta.sso.title')}>
          <Settings tenant={tenant} />
          <Connections tenant={tenant} />
        </Page>
      )}
    </TenantScope>
  );
}

function Settings(props: { readonly tenant: string }) {
  const { t } = useI18n();
  const can = useCan();
  const params = { tenant: props.tenant };
  const settings = useQuery(
    ['identity', props.tenant],
    async (api, signal) => await api.get('/api/v1/tenants/{tenant}/identity', { params, signal }),
    { topics: ['identity'] },
  );
  const layer = settings.data?.tenantSettings;
  const [form, setForm] = useState<SettingsForm | null>(null);
  const current: SettingsForm = form ?? {
    signIn: layer?.signIn ?? '',
    mfa: layer?.mfa ?? '',
    localUsers: layer?.localUsers === null || layer?.localUsers === undefined ? '' : String(layer.localUsers),
    idleMinutes: layer?.idleMinutes?.toString() ?? '',
    absoluteHours: layer?.absoluteHours?.toString() ?? '',
  };
  const save = useMutation(
    (api, body: Record<string, unknown>) => api.patch('/api/v1/tenants/{tenant}/identity', { params, body }),
    {
      onSuccess: () => {
        setForm(null);
        settings.refetch();
      },
    },
  );
  const field = (key: keyof Layer) => ({
    name: key,
    value: current[key],
    onValue: (value: string) => setForm({ ...current, [key]: value }),
  });
  const asBefore = (value: string) => t('ta.sso.settings.default', { value });
  return (
    <section aria-labelledby="ta-sso-settings">
      <h2 id="ta-sso-settings">{t('ta.sso.settings.title')}</h2>
      <p>{t('ta.sso.settings.intro')}</p>
      <ListTable
        label={t('ta.sso.settings.title')}
        result={settings}
        rows={settings.data?.stages ?? []}
        rowKey={(row) => row.stage}
        columns={[
          { key: 'stage', header: t('ta.field.stage'), rowHeader: true, render: (row) => row.stage },
          {
            key: 'signIn',
            header: t('ta.sso.settings.signIn'),
            render: (row) => t(`ta.sso.signIn.${row.effective.signIn}`),
          },
          {
            key: 'localUsers',
            header: t('ta.sso.settings.localUsers'),
            render: (row) => (row.effective.localUsers ? t('ta.yes') : t('ta.no')),
          },
          {
            key: 'mfa',
            header: t('ta.sso.settings.mfa'),
            render: (row) => t(`ta.sso.mfa.${row.effective.mfa}`),
          },
          {
            key: 'idle',
            header: t('ta.sso.settings.idleMinutes'),
            render: (row) => row.effective.idleMinutes,
          },
          {
            key: 'absolute',
            header: t('ta.sso.settings.absoluteHours'),
            render: (row) => row.effective.absoluteHours,
          },
        ]}
      />
      {can('identity.write') && settings.data ? (
        <FormSection
          level={3}
          title={t('ta.sso.settings.edit')}
          notice={
            save.data && !form ? (
              <p className="banner" role="status">
                {t('ta.sso.settings.saved')}
              </p>
            ) : null
          }
          onSubmit={() => save.mutate(settingsPatch(current))}
          error={save.error}
          submitLabel={t('ta.sso.settings.save')}
          busy={save.pending}
        >
          <SelectField
            {...field('signIn')}
            label={t('ta.sso.settings.signIn')}
            options={[
              { value: '', label: asBefore(t('ta.sso.signIn.off')) },
              ...signInModes.map((mode) => ({ value: mode, label: t(`ta.sso.signIn.${mode}`) })),
            ]}
          />
          <SelectField
            {...field('localUsers')}
            label={t('ta.sso.settings.localUsers')}
            options={[
              { value: '', label: asBefore(t('ta.no')) },
              { value: 'true', label: t('ta.yes') },
              { value: 'false', label: t('ta.no') },
            ]}
          />
          <SelectField
            {...field('mfa')}
            label={t('ta.sso.settings.mfa')}
            options={[
              { value: '', label: asBefore(t('ta.sso.mfa.optional')) },
              ...mfaModes.map((mode) => ({ value: mode, label: t(`ta.sso.mfa.${mode}`) })),
            ]}
          />
          <TextField {...field('idleMinutes')} label={t('ta.sso.settings.idleMinutes')} inputMode="numeric" />
          <TextField
            {...field('absoluteHours')}
            label={t('ta.sso.settings.absoluteHours')}
            inputMode="numeric"
          />
        </FormSection>
      ) : null}
    </section>
  );
}

/** The body of POST …/identity/oidc, as the OpenAPI document has it. */
type OidcBody = RequestBody<paths, '/api/v1/tenants/{tenant}/identity/oidc', 'post'>;

function Connections(props: { readonly tenant: string }) {
  const { t } = useI18n();
  const can = useCan();
  const params = { tenant: props.tenant };
  const list = useQuery(
    ['oidc', props.tenant],
    async (api, signal) => await api.get('/api/v1/tenants/{tenant}/identity/oidc', { params, signal }),
    { topics: ['identity'] },
  );
  const add = useFormState(
    {
      name: '',
      kind: 'generic',
      issuer: '',
      clientId: '',
      clientSecret: '',
      label: '',
      stage: '',
      provision: false,
    },
    (api, form) =>
      api.post('/api/v1/tenants/{tenant}/identity/oidc', {
        params,
        body: {
          name: form.name,
          kind: form.kind as OidcBody['kind'],
          issuer: form.issuer,
          clientId: form.clientId,
          clientSecret: form.clientSecret,
          provision: form.provision,
          ...(form.label.trim() ? { label: form.label.trim() } : {}),
          ...(form.stage.trim() ? { stage: form.stage.trim() } : {}),
        },
      }),
    { onSuccess: list.refetch },
  );
  const writable = can('identity.write');
  return (
    <section aria-labelledby="ta-sso-oidc">
      <h2 id="ta-sso-oidc">{t('ta.sso.oidc.title')}</h2>
      <ListTable
        label={t('ta.sso.oidc.title')}
        result={list}
        rows={list.data?.connections ?? []}
        rowKey={(c) => c.name}
        empty={t('ta.sso.oidc.empty')}
        columns={[
          {
            key: 'name',
            header: t('ta.sso.oidc.field.name'),
            rowHeader: true,
            render: (c) => (c.label ? `${c.name} (${c.label})` : c.name),
          },
          { key: 'kind', header: t('ta.sso.oidc.field.kind'), render: (c) => c.kind },
          { key: 'issuer', header: t('ta.sso.oidc.field.issuer'), render: (c) => c.issuer },
          { key: 'clientId', header: t('ta.sso.oidc.field.clientId'), render: (c) => c.clientId },
          { key: 'stage', header: t('ta.field.stage'), render: (c) => c.stage ?? t('ta.field.allStages') },
          {
            key: 'redirect',
            header: t('ta.sso.oidc.field.redirect'),
            render: (c) => <code>{c.redirectPath}</code>,
          },
          writable && {
            key: 'actions',
            header: t('ta.field.actions'),
            render: (c) => (
              <ConfirmAction
                danger
                label={t('ta.sso.oidc.remove')}
                ariaLabel={t('ta.sso.oidc.remove.label', { name: c.name })}
                title={t('ta.sso.oidc.remove.title', { name: c.name })}
                run={(api) =>
                  api.delete('/api/v1/tenants/{tenant}/identity/oidc/{name}', {
                    params: { ...params, name: c.name },
                  })
                }
                onDone={list.refetch}
              >
                <p>{t('ta.sso.oidc.remove.text')}</p>
              </ConfirmAction>
            ),
          },
        ]}
      />
      {writable ? (
        <FormSection
          level={3}
          title={t('ta.sso.oidc.add.title')}
          {...add.form}
          submitLabel={t('ta.sso.oidc.add.submit')}
          busy={add.pending}
        >
          <TextField
            {...add.field('name')}
            label={t('ta.sso.oidc.field.name')}
            hint={t('ta.sso.oidc.field.nameHint')}
            required
          />
          <SelectField
            {...add.field('kind')}
            label={t('ta.sso.oidc.field.kind')}
            options={connectionKinds.map((kind) => ({ value: kind, label: kind }))}
          />
          <TextField {...add.field('issuer')} label={t('ta.sso.oidc.field.issuer')} type="url" required />
          <TextField {...add.field('clientId')} label={t('ta.sso.oidc.field.clientId')} required />
          <TextField
            {...add.field('clientSecret')}
            label={t('ta.sso.oidc.field.clientSecret')}
            hint={t('ta.sso.oidc.field.clientSecretHint')}
            type="password"
            autoComplete="off"
            required
          />
          <TextField {...add.field('label')} label={t('ta.sso.oidc.field.label')} />
          <TextField
            {...add.field('stage')}
            label={t('ta.field.stage')}
            hint={t('ta.sso.oidc.field.stageHint')}
          />
          <CheckField {...add.check('provision')} label={t('ta.sso.oidc.field.provision')} />
        </FormSection>
      ) : null}
    </section>
  );
}
