import type { Config } from '../core/config.ts';
import type { Deadline } from './notices.ts';
import type { Postmortem } from './postmortem.ts';
import type { IncidentStatus } from './store.ts';
import type { TimelineEntry } from './timeline.ts';

/** What the incident service shows and takes (the API's contracts are these). */

export type IncidentSettings = Config['incidents'];

export interface IncidentView {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string | null;
  readonly severity: number;
  readonly severityName: string;
  readonly title: string;
  readonly status: IncidentStatus;
  readonly owner: string | null;
  readonly security: boolean;
  readonly openedBy: string;
  readonly openedAt: string;
  readonly resolvedAt: string | null;
  readonly closedAt: string | null;
  readonly closedBy: string | null;
  readonly postmortem: Postmortem | null;
  readonly postmortemAt: string | null;
  readonly postmortemBy: string | null;
  readonly postmortemRequired: boolean;
  readonly breachConfirmedAt: string | null;
  /** A confirmed breach's notice deadlines: customers and the supervisory authority. */
  readonly deadlines: readonly Deadline[];
  readonly alerts: readonly { readonly id: string; readonly checkId: string | null }[];
}

export interface IncidentDetail extends IncidentView {
  readonly timeline: readonly TimelineEntry[];
}

export interface OpenIncidentInput {
  readonly tenant?: string | undefined;
  readonly stage?: string | undefined;
  readonly severity: unknown;
  readonly title: string;
  readonly fromAlert?: string | undefined;
  readonly security?: boolean | undefined;
  readonly owner?: string | undefined;
  readonly note?: string | undefined;
}

export interface UpdateIncidentInput {
  readonly status?: string | undefined;
  readonly severity?: unknown;
  readonly note: string;
  /** A status-page post. */
  readonly public?: boolean | undefined;
}

/** A status-page post: a public update with its incident's place and title. */
export interface StatusPost {
  readonly incident: string;
  readonly tenant: string;
  readonly stage: string | null;
  readonly title: string;
  readonly severity: number;
  readonly status: IncidentStatus;
  readonly note: string | null;
  readonly at: string;
}
