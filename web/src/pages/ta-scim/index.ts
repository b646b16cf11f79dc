import type { PageDef } from '../../app/registry.ts';

/** A tenant's SCIM tokens: its identity provider provisions users and groups with one. */
export const pages: PageDef[] = [
  {
    path: '/t/:tenant/scim',
    titleKey: 'ta.scim.title',
    load: () => import('./ScimTokens.tsx'),
    nav: { section: 'tenant', labelKey: 'ta.scim.nav', order: 13 },
    permission: 'identity.read',
    audience: 'tenant-admin',
  },
];

export const messages = {
  en: {
    'ta.scim.nav': 'SCIM',
    'ta.scim.title': 'SCIM provisioning',
    'ta.scim.intro':
      'Your identity provider (Entra ID, Okta, …) creates, updates and removes your users and groups over SCIM 2.0 with one of these tokens.',
    'ta.scim.create.title': 'New token',
    'ta.scim.create.name': 'Name',
    'ta.scim.create.nameHint': 'Which identity provider holds it, e.g. entra. At most 64 characters.',
    'ta.scim.create.days': 'Expires after (days)',
    'ta.scim.create.daysHint': 'Empty: never.',
    'ta.scim.create.submit': 'Create token',
    'ta.scim.issued.title': 'Token {name} created',
    'ta.scim.issued.once':
      'Copy the token now and give it to your identity provider: it is shown only this once. Steward keeps only its hash.',
    'ta.scim.issued.token': 'SCIM token',
    'ta.scim.issued.url': 'SCIM base URL',
    'ta.scim.list.title': 'Tokens',
    'ta.scim.list.empty': 'No SCIM tokens yet.',
    'ta.scim.field.name': 'Name',
    'ta.scim.field.expiresAt': 'Expires',
    'ta.scim.field.lastUsedAt': 'Last used',
    'ta.scim.state.active': 'active',
    'ta.scim.state.revoked': 'revoked',
    'ta.scim.state.expired': 'expired',
    'ta.scim.revoke': 'Revoke',
    'ta.scim.revoke.label': 'Revoke token {name}',
    'ta.scim.revoke.title': 'Revoke token {name}?',
    'ta.scim.revoke.text': 'The identity provider holding it is refused from now on. This cannot be undone.',
  },
  de: {
    'ta.scim.nav': 'SCIM',
    'ta.scim.title': 'SCIM-Bereitstellung',
    'ta.scim.intro':
      'Ihr Identitätsanbieter (Entra ID, Okta, …) legt mit einem dieser Tokens Ihre Benutzer und Gruppen über SCIM 2.0 an, ändert und entfernt sie.',
    'ta.scim.create.title': 'Neues Token',
    'ta.scim.create.name': 'Name',
    'ta.scim.create.nameHint': 'Welcher Identitätsanbieter es hält, z. B. entra. Höchstens 64 Zeichen.',
    'ta.scim.create.days': 'Läuft ab nach (Tagen)',
    'ta.scim.create.daysHint': 'Leer: nie.',
    'ta.scim.create.submit': 'Token erstellen',
    'ta.scim.issued.title': 'Token {name} erstellt',
    'ta.scim.issued.once':
      'Kopieren Sie das Token jetzt und geben Sie es Ihrem Identitätsanbieter: Es wird nur dieses eine Mal angezeigt. Steward speichert nur seinen Hash.',
    'ta.scim.issued.token': 'SCIM-Token',
    'ta.scim.issued.url': 'SCIM-Basis-URL',
    'ta.scim.list.title': 'Tokens',
    'ta.scim.list.empty': 'Noch keine SCIM-Tokens.',
    'ta.scim.field.name': 'Name',
    'ta.scim.field.expiresAt': 'Läuft ab',
    'ta.scim.field.lastUsedAt': 'Zuletzt benutzt',
    'ta.scim.state.active': 'aktiv',
    'ta.scim.state.revoked': 'widerrufen',
    'ta.scim.state.expired': 'abgelaufen',
    'ta.scim.revoke': 'Widerrufen',
    'ta.scim.revoke.label': 'Token {name} widerrufen',
    'ta.scim.revoke.title': 'Token {name} widerrufen?',
    'ta.scim.revoke.text':
      'Der Identitätsanbieter, der es hält, wird ab sofort abgewiesen. Das lässt sich nicht rückgängig machen.',
  },
};
