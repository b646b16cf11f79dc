import type { Messages } from '../../app/i18n.tsx';

const en: Messages = {
  'tenants.nav': 'Tenants',
  'tenants.list.title': 'Tenants',
  'tenants.list.empty': 'No tenants match.',
  'tenants.filter.q': 'Slug or name contains',
  'tenants.filter.any': 'any',
  'tenants.field.slug': 'Slug',
  'tenants.field.displayName': 'Name',
  'tenants.field.phase': 'Phase',
  'tenants.field.tier': 'Tier',
  'tenants.field.region': 'Region',
  'tenants.field.geography': 'Geography',
  'tenants.field.stages': 'Stages',
  'tenants.field.createdAt': 'Created',
  'tenants.create.action': 'Create tenant',
  'tenants.create.title': 'Create a tenant',
  'tenants.create.slugHint':
    'Lower-case letters, digits and hyphens; it names the tenant in URLs and hostnames.',
  'tenants.create.stagesHint': 'Comma-separated; empty for the default stages (dev, test, prod).',
  'tenants.create.regionHint': 'Empty for the default region.',
  'tenants.create.submit': 'Create tenant',
  'tenants.detail.title': 'Tenant',
  'stages.detail.title': 'Stage',
};

const de: Messages = {
  'tenants.nav': 'Mandanten',
  'tenants.list.title': 'Mandanten',
  'tenants.list.empty': 'Keine passenden Mandanten.',
  'tenants.filter.q': 'Kürzel oder Name enthält',
  'tenants.filter.any': 'alle',
  'tenants.field.slug': 'Kürzel',
  'tenants.field.displayName': 'Name',
  'tenants.field.phase': 'Phase',
  'tenants.field.tier': 'Stufe',
  'tenants.field.region': 'Region',
  'tenants.field.geography': 'Geografie',
  'tenants.field.stages': 'Stages',
  'tenants.field.createdAt': 'Angelegt',
  'tenants.create.action': 'Mandant anlegen',
  'tenants.create.title': 'Mandant anlegen',
  'tenants.create.slugHint':
    'Kleinbuchstaben, Ziffern und Bindestriche; der Name des Mandanten in URLs und Hostnamen.',
  'tenants.create.stagesHint': 'Durch Kommas getrennt; leer für die Standard-Stages (dev, test, prod).',
  'tenants.create.regionHint': 'Leer für die Standardregion.',
  'tenants.create.submit': 'Mandant anlegen',
  'tenants.detail.title': 'Mandant',
  'stages.detail.title': 'Stage',
};

export const messages = { en, de };
