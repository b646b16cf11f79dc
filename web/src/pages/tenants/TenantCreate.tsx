import { useState } from 'react';
import { Link, useLocation } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useMutation } from '../../app/query.ts';
import { Button, Form, Page, SelectField, TextField } from '../../ui/index.ts';
import type { paths } from '../../../../src/api/client/schema.ts';
import type { RequestBody } from '../../../../src/api/client/typed.ts';

type CreateTenantBody = RequestBody<paths, '/api/v1/tenants', 'post'>;

/** Create a tenant with its stages; the API's error lands under the field it names. */
export default function TenantCreate() {
  const { t } = useI18n();
  const [, navigate] = useLocation();
  const [slug, setSlug] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [tier, setTier] = useState('shared');
  const [region, setRegion] = useState('');
  const [stages, setStages] = useState('');
  const create = useMutation((api, body: CreateTenantBody) => api.post('/api/v1/tenants', { body }), {
    onSuccess: (tenant) => navigate(`/tenants/${encodeURIComponent(tenant.slug)}`),
  });
  const submit = () => {
    const names = stages
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean);
    return create.mutate({
      slug,
      tier: tier as CreateTenantBody['tier'],
      ...(displayName ? { displayName } : {}),
      ...(region ? { region } : {}),
      ...(names.length ? { stages: names } : {}),
    });
  };
  return (
    <Page title={t('tenants.create.title')} crumbs={<Link href="/tenants">{t('tenants.list.title')}</Link>}>
      <Form onSubmit={submit} error={create.error} label={t('tenants.create.title')}>
        <TextField
          name="slug"
          label={t('tenants.field.slug')}
          hint={t('tenants.create.slugHint')}
          value={slug}
          onValue={setSlug}
          required
          autoFocus
        />
        <TextField
          name="displayName"
          label={t('tenants.field.displayName')}
          value={displayName}
          onValue={setDisplayName}
        />
        <SelectField
          name="tier"
          label={t('tenants.field.tier')}
          value={tier}
          onValue={setTier}
          options={['shared', 'dedicated', 'ha'].map((value) => ({ value, label: value }))}
        />
        <TextField
          name="region"
          label={t('tenants.field.region')}
          hint={t('tenants.create.regionHint')}
          value={region}
          onValue={setRegion}
        />
        <TextField
          name="stages"
          label={t('tenants.field.stages')}
          hint={t('tenants.create.stagesHint')}
          value={stages}
          onValue={setStages}
        />
        <Button type="submit" variant="primary" busy={create.pending}>
          {t('tenants.create.submit')}
        </Button>
      </Form>
    </Page>
  );
}
