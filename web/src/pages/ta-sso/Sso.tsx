import { useState } from 'react';
import type { paths } from '../../../../src/api/client/schema.ts';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation, useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { Button, ConfirmDialog, ErrorBanner, Form, Page, SelectField, TextField } from '../../ui/index.ts';
import { Listed } from '../ta-common/Listed.tsx';
import { TenantScope } from '../ta-common/scope.tsx';
import { settingsPatch, type SettingsForm } from './rules.ts';

/** As src/identity/sessions/claims.ts and settings.ts. */
const signInModes = ['required', 'optional', 'off'] as const;
const mfaModes = ['required', 'optional'] as const;
/** As src/identity/oidc/issuer.ts. */
const connectionKinds = ['generic', 'entra', 'okta'] as const;

interface Layer {
  readonly localUsers: boolean | null;
  readonly signIn: string | null;
  readonly idleMinutes: number | null;
  readonly absoluteHours: number | null;
  readonly mfa: string | null;
}

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
  const set = (key: keyof Layer) => (value: string) => setForm({ ...current, [key]: value });
  const asBefore = (value: string) => t('ta.sso.settings.default', { value });
  return (
    <section aria-labelledby="ta-sso-settings">
      <h2 id="ta-sso-settings">{t('ta.sso.settings.title')}</h2>
      <p>{t('ta.sso.settings.intro')}</p>
      <ErrorBanner error={settings.error} />
      {settings.data?.stages.length ? (
        <div className="table-scroll">
          <table aria-label={t('ta.sso.settings.title')}>
            <thead>
              <tr>
                <th scope="col">{t('ta.field.stage')}</th>
                <th scope="col">{t('ta.sso.settings.signIn')}</th>
                <th scope="col">{t('ta.sso.settings.localUsers')}</th>
                <th scope="col">{t('ta.sso.settings.mfa')}</th>
                <th scope="col">{t('ta.sso.settings.idleMinutes')}</th>
                <th scope="col">{t('ta.sso.settings.absoluteHours')}</th>
              </tr>
            </thead>
            <tbody>
              {settings.data.stages.map(({ stage, effective }) => (
                <tr key={stage}>
                  <th scope="row">{stage}</th>
                  <td>{t(`ta.sso.signIn.${effective.signIn}`)}</td>
                  <td>{effective.localUsers ? t('ta.yes') : t('ta.no')}</td>
                  <td>{t(`ta.sso.mfa.${effective.mfa}`)}</td>
                  <td>{effective.idleMinutes}</td>
                  <td>{effective.absoluteHours}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {can('identity.write') && settings.data ? (
        <>
          <h3>{t('ta.sso.settings.edit')}</h3>
          {save.data && !form ? (
            <p className="banner" role="status">
              {t('ta.sso.settings.saved')}
            </p>
          ) : null}
          <Form
            onSubmit={() => save.mutate(settingsPatch(current))}
            error={save.error}
            label={t('ta.sso.settings.edit')}
          >
            <SelectField
              name="signIn"
              label={t('ta.sso.settings.signIn')}
              value={current.signIn}
              onValue={set('signIn')}
              options={[
                { value: '', label: asBefore(t('ta.sso.signIn.off')) },
                ...signInModes.map((mode) => ({ value: mode, label: t(`ta.sso.signIn.${mode}`) })),
              ]}
            />
            <SelectField
              name="localUsers"
              label={t('ta.sso.settings.localUsers')}
              value={current.localUsers}
              onValue={set('localUsers')}
              options={[
                { value: '', label: asBefore(t('ta.no')) },
                { value: 'true', label: t('ta.yes') },
                { value: 'false', label: t('ta.no') },
              ]}
            />
            <SelectField
              name="mfa"
              label={t('ta.sso.settings.mfa')}
              value={current.mfa}
              onValue={set('mfa')}
              options={[
                { value: '', label: asBefore(t('ta.sso.mfa.optional')) },
                ...mfaModes.map((mode) => ({ value: mode, label: t(`ta.sso.mfa.${mode}`) })),
              ]}
            />
            <TextField
              name="idleMinutes"
              label={t('ta.sso.settings.idleMinutes')}
              value={current.idleMinutes}
              onValue={set('idleMinutes')}
              inputMode="numeric"
            />
            <TextField
              name="absoluteHours"
              label={t('ta.sso.settings.absoluteHours')}
              value={current.absoluteHours}
              onValue={set('absoluteHours')}
              inputMode="numeric"
            />
            <Button type="submit" variant="primary" busy={save.pending}>
              {t('ta.sso.settings.save')}
            </Button>
          </Form>
        </>
      ) : null}
    </section>
  );
}

/** The body of POST …/identity/oidc, as the OpenAPI document has it. */
type OidcBody = NonNullable<
  paths['/api/v1/tenants/{tenant}/identity/oidc']['post']['requestBody']
>['content']['application/json'];

const emptyConnection = {
  name: '',
  kind: 'generic',
  issuer: '',
  clientId: '',
  clientSecret: '',
  label: '',
  stage: '',
};

function Connections(props: { readonly tenant: string }) {
  const { t } = useI18n();
  const can = useCan();
  const params = { tenant: props.tenant };
  const list = useQuery(
    ['oidc', props.tenant],
    async (api, signal) =>
      await api.get('/api/v1/tenants/{tenant}/identity/oidc', {
        params,
        signal,
      }),
    { topics: ['identity'] },
  );
  const [form, setForm] = useState(emptyConnection);
  const [provision, setProvision] = useState(false);
  const add = useMutation(
    (api, body: OidcBody) => api.post('/api/v1/tenants/{tenant}/identity/oidc', { params, body }),
    {
      onSuccess: () => {
        setForm(emptyConnection);
        setProvision(false);
        list.refetch();
      },
    },
  );
  const [removing, setRemoving] = useState<string | null>(null);
  const remove = useMutation(
    (api, name: string) =>
      api.delete('/api/v1/tenants/{tenant}/identity/oidc/{name}', { params: { ...params, name } }),
    {
      onSuccess: () => {
        setRemoving(null);
        list.refetch();
      },
    },
  );
  const field = (key: keyof typeof emptyConnection) => (value: string) => setForm({ ...form, [key]: value });
  const submit = () =>
    add.mutate({
      name: form.name,
      kind: form.kind as OidcBody['kind'],
      issuer: form.issuer,
      clientId: form.clientId,
      clientSecret: form.clientSecret,
      provision,
      ...(form.label.trim() ? { label: form.label.trim() } : {}),
      ...(form.stage.trim() ? { stage: form.stage.trim() } : {}),
    });
  const connections = list.data?.connections ?? [];
  return (
    <section aria-labelledby="ta-sso-oidc">
      <h2 id="ta-sso-oidc">{t('ta.sso.oidc.title')}</h2>
      <Listed result={list} count={connections.length} empty={t('ta.sso.oidc.empty')}>
        <div className="table-scroll">
          <table aria-label={t('ta.sso.oidc.title')}>
            <thead>
              <tr>
                <th scope="col">{t('ta.sso.oidc.field.name')}</th>
                <th scope="col">{t('ta.sso.oidc.field.kind')}</th>
                <th scope="col">{t('ta.sso.oidc.field.issuer')}</th>
                <th scope="col">{t('ta.sso.oidc.field.clientId')}</th>
                <th scope="col">{t('ta.field.stage')}</th>
                <th scope="col">{t('ta.sso.oidc.field.redirect')}</th>
                {can('identity.write') ? <th scope="col">{t('ta.field.actions')}</th> : null}
              </tr>
            </thead>
            <tbody>
              {connections.map((c) => (
                <tr key={c.name}>
                  <th scope="row">{c.label ? `${c.name} (${c.label})` : c.name}</th>
                  <td>{c.kind}</td>
                  <td>{c.issuer}</td>
                  <td>{c.clientId}</td>
                  <td>{c.stage ?? t('ta.field.allStages')}</td>
                  <td>
                    <code>{c.redirectPath}</code>
                  </td>
                  {can('identity.write') ? (
                    <td>
                      <Button
                        variant="danger"
                        aria-label={t('ta.sso.oidc.remove.label', { name: c.name })}
                        onClick={() => {
                          remove.reset();
                          setRemoving(c.name);
                        }}
                      >
                        {t('ta.sso.oidc.remove')}
                      </Button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Listed>
      {can('identity.write') ? (
        <>
          <h3>{t('ta.sso.oidc.add.title')}</h3>
          <Form onSubmit={submit} error={add.error} label={t('ta.sso.oidc.add.title')}>
            <TextField
              name="name"
              label={t('ta.sso.oidc.field.name')}
              hint={t('ta.sso.oidc.field.nameHint')}
              value={form.name}
              onValue={field('name')}
              required
            />
            <SelectField
              name="kind"
              label={t('ta.sso.oidc.field.kind')}
              value={form.kind}
              onValue={field('kind')}
              options={connectionKinds.map((kind) => ({ value: kind, label: kind }))}
            />
            <TextField
              name="issuer"
              label={t('ta.sso.oidc.field.issuer')}
              value={form.issuer}
              onValue={field('issuer')}
              type="url"
              required
            />
            <TextField
              name="clientId"
              label={t('ta.sso.oidc.field.clientId')}
              value={form.clientId}
              onValue={field('clientId')}
              required
            />
            <TextField
              name="clientSecret"
              label={t('ta.sso.oidc.field.clientSecret')}
              hint={t('ta.sso.oidc.field.clientSecretHint')}
              value={form.clientSecret}
              onValue={field('clientSecret')}
              type="password"
              autoComplete="off"
              required
            />
            <TextField
              name="label"
              label={t('ta.sso.oidc.field.label')}
              value={form.label}
              onValue={field('label')}
            />
            <TextField
              name="stage"
              label={t('ta.field.stage')}
              hint={t('ta.sso.oidc.field.stageHint')}
              value={form.stage}
              onValue={field('stage')}
            />
            <div className="field">
              <label className="inline">
                <input
                  type="checkbox"
                  checked={provision}
                  onChange={(event) => setProvision(event.target.checked)}
                />{' '}
                {t('ta.sso.oidc.field.provision')}
              </label>
            </div>
            <Button type="submit" variant="primary" busy={add.pending}>
              {t('ta.sso.oidc.add.submit')}
            </Button>
          </Form>
        </>
      ) : null}
      <ConfirmDialog
        open={removing !== null}
        title={t('ta.sso.oidc.remove.title', { name: removing ?? '' })}
        confirmLabel={t('ta.sso.oidc.remove')}
        danger
        busy={remove.pending}
        error={remove.error}
        onConfirm={() => removing && void remove.mutate(removing)}
        onCancel={() => setRemoving(null)}
      >
        <p>{t('ta.sso.oidc.remove.text')}</p>
      </ConfirmDialog>
    </section>
  );
}
