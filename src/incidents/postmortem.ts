import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError, showValue } from '../core/errors.ts';
import { parseInput, ruled } from '../core/validation.ts';

/**
 * A post-mortem, written as YAML (or JSON, which is YAML too):
 *
 *   cause: The connection pool ran out after release 2.3 doubled queries per login.
 *   impact:
 *     slaMinutes: 42
 *     summary: Sign-in failed for every user of acme prod from 10:02 to 10:44.
 *   actions:
 *     - what: Limit queries per login in the release checklist
 *       owner: anna
 *       due: 2026-12-20
 *   checks:
 *     - what: HTTP check of /api/login expecting 200 every 10s
 *       why: it would have alerted 30 minutes before the first customer call
 *
 * Parsed and checked here, once; a problem names its field
 * (`postmortem.actions.0.due`), the value and what is accepted.
 */
export const postmortemExample = `cause: The connection pool ran out after release 2.3 doubled queries per login.
impact:
  slaMinutes: 42
  summary: Sign-in failed for every user of acme prod from 10:02 to 10:44.
actions:
  - what: Limit queries per login in the release checklist
    owner: anna
    due: 2026-12-20
checks:
  - what: HTTP check of /api/login expecting 200 every 10s
    why: it would have alerted 30 minutes before the first customer call
`;

const text = (max: number) => z.string().trim().min(1).max(max);
/** A person's login or name, as incidents and actions name their owner. */
export function ownerProblem(value: string): string | undefined {
  return /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$/.test(value)
    ? undefined
    : `${showValue(value)} is not accepted; use a login such as anna: 1 to 100 letters, digits, ".", "_", "@", "+" or "-"`;
}
const ownerName = ruled(ownerProblem);

/** A calendar date that exists: 2026-12-20. */
const dueDate = z.union([z.string(), z.date()]).transform((v, ctx) => {
  // YAML reads an unquoted 2026-12-20 as a date.
  const s = v instanceof Date ? v.toISOString().slice(0, 10) : v;
  const d = new Date(`${s}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== s) {
    ctx.addIssue({
      code: 'custom',
      message: `${showValue(s)} is not accepted; use a date such as 2026-12-20`,
    });
    return z.NEVER;
  }
  return s;
});

const postmortemSchema = z
  .object({
    cause: text(4000),
    impact: z
      .object({
        /** Minutes the incident cost against the tenant's SLA (downtime as the report counts it). */
        slaMinutes: z.number().min(0).max(527_040),
        summary: text(4000),
      })
      .strict(),
    actions: z
      .array(z.object({ what: text(500), owner: ownerName, due: dueDate }).strict())
      .min(1)
      .max(50),
    /** Checks to add as early warnings; an empty list says none would have helped. */
    checks: z.array(z.object({ what: text(500), why: text(1000).optional() }).strict()).max(50),
  })
  .strict();

export type Postmortem = z.output<typeof postmortemSchema>;

const documentSchema = z.object({ postmortem: postmortemSchema }).strict();

const maxDocumentChars = 64_000;

/** Parses a post-mortem document (YAML or JSON text) into its checked form. */
export function parsePostmortem(document: string): Postmortem {
  if (document.length > maxDocumentChars) {
    throw new InputError(
      `field "postmortem": ${document.length} characters is too long: at most ${maxDocumentChars}`,
      { field: 'postmortem' },
    );
  }
  let data: unknown;
  try {
    data = parseYaml(document, { maxAliasCount: 0 });
  } catch (error) {
    throw new InputError(
      `field "postmortem": not YAML or JSON (${(error as Error).message.split('\n')[0] ?? ''}); write it like:\n${postmortemExample}`,
      { field: 'postmortem', cause: error },
    );
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InputError(
      `field "postmortem": a post-mortem has the fields cause, impact, actions and checks; write it like:\n${postmortemExample}`,
      { field: 'postmortem' },
    );
  }
  return parseInput(documentSchema, { postmortem: data }, 'postmortem').postmortem;
}
