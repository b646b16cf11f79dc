import type { paths } from '../../../../src/api/client/schema.ts';
import type { ResponseBody } from '../../../../src/api/client/typed.ts';

/** What the on-call API returns: the types generated from its contracts (src/api/contracts/oncall.ts). */
export type ScheduleRow = ResponseBody<paths, '/api/v1/oncall/schedules'>['schedules'][number];
export type OnCall = ScheduleRow['onCall'];
export type ScheduleDetail = ResponseBody<paths, '/api/v1/oncall/schedules/{name}'>;
export type PolicyRow = ResponseBody<paths, '/api/v1/oncall/escalation-policies'>['policies'][number];
export type ContactRow = ResponseBody<paths, '/api/v1/oncall/contacts'>['contacts'][number];

/** "anna, ben ,  carla" as the members list the API takes. */
export function memberList(text: string): string[] {
  return text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

/** Whom a step of an escalation policy pages (src/oncall/escalation.ts StepTarget). */
export const stepTargets = ['schedule', 'operators', 'channel', 'channels', 'owners'] as const;
export type StepTarget = (typeof stepTargets)[number];
export const delayUnits = ['m', 'h', 's'] as const;

/** One step as the editor holds it: the delay as typed (the API checks it), whom, and which. */
export interface StepDraft {
  readonly key: number;
  readonly delay: string;
  readonly unit: string;
  readonly target: StepTarget;
  /** The schedule, the operators (a,b) or the channel; empty for channels and owners. */
  readonly name: string;
}

/** Whether a target names someone (a schedule, operators, a channel) or stands alone. */
export const namesSomeone = (target: StepTarget): boolean =>
  target === 'schedule' || target === 'operators' || target === 'channel';

/** A step as the API takes it: "[after N s|m|h] notify <target> [name]". */
export function stepText(step: StepDraft): string {
  const delay = step.delay.trim();
  const after = delay === '' || delay === '0' ? '' : `after ${delay}${step.unit} `;
  const name = namesSomeone(step.target) ? ` ${step.name.trim()}` : '';
  return `${after}notify ${step.target}${name}`.trimEnd();
}

/** A step as the API shows it ("after 15m notify schedule ops"), back into the editor's fields. */
export function stepDraft(text: string, key: number): StepDraft {
  const m = /^(?:after (\d+)([smh]) )?notify (schedule|operators|channel|channels|owners)(?: (\S+))?$/.exec(
    text,
  );
  const target = (m?.[3] ?? 'owners') as StepTarget;
  return { key, delay: m?.[1] ?? '0', unit: m?.[2] ?? 'm', target, name: m?.[4] ?? '' };
}

/** The steps with one moved by `by` places (up: -1, down: +1); unchanged at either end. */
export function moveStep<T>(steps: readonly T[], index: number, by: -1 | 1): T[] {
  const to = index + by;
  if (to < 0 || to >= steps.length) return [...steps];
  const out = [...steps];
  [out[index], out[to]] = [out[to] as T, out[index] as T];
  return out;
}
