/**
 * The post-mortem form's values as the document PUT /api/v1/incidents/:id/postmortem
 * takes: JSON text (which is YAML too). The API checks it and names a bad
 * field as `postmortem.actions.0.due`; the form's inputs are named by those
 * same paths, so its message lands under the input it is about. Numbers the
 * API expects are sent as numbers when they are numbers, else as typed, so the
 * API's message names the value the operator gave.
 */
export interface PostmortemForm {
  readonly cause: string;
  readonly impactSummary: string;
  readonly slaMinutes: string;
  readonly actionWhat: string;
  readonly actionOwner: string;
  readonly actionDue: string;
  readonly checkWhat: string;
  readonly checkWhy: string;
}

/** The form's input names: the API's field paths. */
export const postmortemFields = {
  cause: 'postmortem.cause',
  impactSummary: 'postmortem.impact.summary',
  slaMinutes: 'postmortem.impact.slaMinutes',
  actionWhat: 'postmortem.actions.0.what',
  actionOwner: 'postmortem.actions.0.owner',
  actionDue: 'postmortem.actions.0.due',
  checkWhat: 'postmortem.checks.0.what',
  checkWhy: 'postmortem.checks.0.why',
} as const satisfies Record<keyof PostmortemForm, string>;

function numberOrText(text: string): number | string {
  const trimmed = text.trim();
  return /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}

export function postmortemDocument(form: PostmortemForm): string {
  const check = form.checkWhat.trim();
  const why = form.checkWhy.trim();
  return JSON.stringify(
    {
      cause: form.cause.trim(),
      impact: { slaMinutes: numberOrText(form.slaMinutes), summary: form.impactSummary.trim() },
      actions: [{ what: form.actionWhat.trim(), owner: form.actionOwner.trim(), due: form.actionDue.trim() }],
      checks: check ? [{ what: check, ...(why ? { why } : {}) }] : [],
    },
    null,
    2,
  );
}
