/**
 * Incident severities 1-4 and the written rules that classify an incident:
 * the first rule that fits gives the severity. `steward incident severities`
 * prints them. Pure data.
 */
export const severityLevels = [1, 2, 3, 4] as const;
export type Severity = (typeof severityLevels)[number];

export interface SeverityRule {
  readonly level: Severity;
  readonly name: string;
  /** When an incident has this severity. */
  readonly rule: string;
  readonly examples: readonly string[];
  /** How often the timeline should get an update while it is open. */
  readonly updateEvery: string;
  readonly postmortemRequired: boolean;
}

export const severityRules: readonly SeverityRule[] = [
  {
    level: 1,
    name: 'critical',
    rule: "A tenant's prod stage is down or loses or exposes data, for all or most of its users, with no workaround; or a security breach is confirmed.",
    examples: [
      'prod answers 5xx to every request',
      'a restore is needed to recover lost data',
      "a tenant's data was read by someone who may not",
    ],
    updateEvery: '30 minutes',
    postmortemRequired: true,
  },
  {
    level: 2,
    name: 'major',
    rule: "A main function of a tenant's prod stage (sign-in, saving, a core workflow) fails or is so slow that many users cannot work, and a workaround is hard or absent; or the SLA budget of the period is at risk; or a security incident is suspected but not confirmed.",
    examples: ['sign-in fails for half the users', 'saves take over a minute', 'backups failed for a day'],
    updateEvery: '1 hour',
    postmortemRequired: true,
  },
  {
    level: 3,
    name: 'minor',
    rule: 'Part of a prod stage is degraded and a workaround exists, or few users are affected; or a non-prod stage (dev, test) is down.',
    examples: ['exports are slow', 'one report fails', 'the test stage does not start'],
    updateEvery: '1 working day',
    postmortemRequired: false,
  },
  {
    level: 4,
    name: 'low',
    rule: 'No user is affected yet: a risk, a near miss, a cosmetic fault, or a warning that needs follow-up.',
    examples: ['a certificate expires in 10 days', 'disk 80 % full', 'a typo on a page'],
    updateEvery: 'when something changes',
    postmortemRequired: false,
  },
];

export function severityRule(level: Severity): SeverityRule {
  const rule = severityRules.find((r) => r.level === level);
  if (!rule) throw new Error(`no severity rule for ${level}`);
  return rule;
}

/** Severities 1 and 2 close only with a post-mortem. */
export function needsPostmortem(level: number): boolean {
  return severityRules.some((r) => r.level === level && r.postmortemRequired);
}

/** The rules as `steward incident severities` prints them. */
export function describeSeverities(): string {
  return severityRules
    .map(
      (r) =>
        `${r.level} ${r.name}: ${r.rule}\n  e.g. ${r.examples.join('; ')}\n  updates every ${r.updateEvery}; post-mortem ${r.postmortemRequired ? 'required before closing' : 'optional'}`,
    )
    .join('\n\n');
}
