import { Link, useLocation } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { Button, Form, Page, SelectField, TextField, useFormState } from '../../ui/index.ts';
import type { paths } from '../../../../src/api/client/schema.ts';
import type { RequestBody } from '../../../../src/api/client/typed.ts';

type CreateTenantBody = RequestBody<paths, '/api/v1/tenants', 'post'>;

/** Create a tenant with its stages; the API's error lands under the field it names. */
export default function TenantCreate() {
  const { t } = useI18n();
  const [, navigate] = useLocation();
  const create = useFormState(
    { slug: '', displayName: '', tier: 'shared', region: '', stages: '' },
    (api, { slug, displayName, tier, region, stages }) => {
      const names = stages
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);
      return api.post('/api/v1/tenants', {
        body: {
          slug,
          tier: tier as CreateTenantBody['tier'],
          ...(displayName ? { displayName } : {}),
          ...(region ? { region } : {}),
          ...(names.length ? { stages: names } : {}),
        },
      });
    },
    { onSuccess: (tenant) => navigate(`/tenants/${encodeURIComponent(tenant.slug)}`) },
  );
  return (
    <Page title={t('tenants.create.title')} crumbs={<Link href="/tenants">{t('tenants.list.title')}</Link>}>
      <Form {...create.form} label={t('tenants.create.title')}>
        <TextField
          {...create.field('slug')}
          label={t('tenants.field.slug')}
          hint={t('tenants.create.slugHint')}
          required
          autoFocus
        />
        <TextField {...create.field('displayName')} label={t('tenants.field.displayName')} />
        <SelectField
          {...create.field('tier')}
          label={t('tenants.field.tier')}
          options={['shared', 'dedicated', 'ha'].map((value) => ({ value, label: value }))}
        />
        <TextField
          {...create.field('region')}
          label={t('tenants.field.region')}
          hint={t('tenants.create.regionHint')}
        />
        <TextField
          {...create.field('stages')}
          label={t('tenants.field.stages')}
          hint={t('tenants.create.stagesHint')}
        />
        <Button type="submit" variant="primary" busy={create.pending}>
          {t('tenants.create.submit')}
        </Button>
      </Form>
    </Page>
  );
}
