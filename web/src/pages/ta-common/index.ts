import type { PageDef } from '../../app/registry.ts';

/**
 * What the tenant admin's page areas (ta-*) share: the tenant scope, the
 * API's shapes, and these texts. No pages of its own.
 */
export const pages: PageDef[] = [];

export const messages = {
  en: {
    'ta.refused.title': 'Not your tenant',
    'ta.refused.text':
      'You administer tenant {own}; tenant {tenant} is not yours to see. Steward refuses every request for it.',
    'ta.field.stage': 'Stage',
    'ta.field.allStages': 'all stages',
    'ta.field.createdAt': 'Created',
    'ta.field.createdBy': 'Created by',
    'ta.field.state': 'State',
    'ta.field.actions': 'Actions',
    'ta.yes': 'yes',
    'ta.no': 'no',
    'ta.never': 'never',
    'ta.done': 'Done',
  },
  de: {
    'ta.refused.title': 'Nicht Ihr Mandant',
    'ta.refused.text':
      'Sie verwalten den Mandanten {own}; den Mandanten {tenant} dürfen Sie nicht sehen. Steward lehnt jede Anfrage dafür ab.',
    'ta.field.stage': 'Stufe',
    'ta.field.allStages': 'alle Stufen',
    'ta.field.createdAt': 'Erstellt',
    'ta.field.createdBy': 'Erstellt von',
    'ta.field.state': 'Zustand',
    'ta.field.actions': 'Aktionen',
    'ta.yes': 'ja',
    'ta.no': 'nein',
    'ta.never': 'nie',
    'ta.done': 'Fertig',
  },
};
