import { z } from 'zod';
import type { AuditService } from '../audit/service.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { DrillStore, DrillView } from '../drills/store.ts';
import { controlScope } from './config.ts';

/**
 * A node-loss drill's result kept as evidence: a row of the drills table
 * (kind node-loss, through ha-drills' DrillStore, its one writer) with an
 * audit event. The drill measures as a client of the surviving nodes
 * (node-loss.ts) and hands its measurements to a survivor's API, which
 * judges them here (nodeLossVerdict) and records them.
 */
const seconds = z.number().min(0).max(86_400).nullable();
const nodeName = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/);

export const nodeLossResultSchema = z
  .object({
    node: nodeName,
    killedAt: z.iso.datetime(),
    processesKilled: z.number().int().min(0).max(100_000),
    apiSeconds: z.record(nodeName, seconds),
    controlPlaneSeconds: seconds,
    servingSeconds: seconds,
    tenants: z.array(z.string().max(100)).max(100_000),
    job: z.object({ tenant: z.string().max(100), ranSeconds: seconds }).strict(),
    checks: z
      .object({
        count: z.number().int().min(0),
        newestBefore: z.iso.datetime().nullable(),
        newestAfter: z.iso.datetime().nullable(),
      })
      .strict(),
    notifications: z
      .object({ pending: z.array(z.string().max(40)).max(100_000), delivered: z.number().int().min(0) })
      .strict(),
    lost: z
      .object({
        jobs: z.number().int().min(0),
        checks: z.number().int().min(0),
        notifications: z.number().int().min(0),
      })
      .strict(),
    oldLeader: nodeName.nullable(),
    newLeader: nodeName.nullable(),
    durationSeconds: z.number().min(0).max(86_400),
  })
  .strict();

export type NodeLossMeasurement = z.output<typeof nodeLossResultSchema>;

/** Passed when the control plane and every tenant came back and nothing in flight was lost; else why not. */
export function nodeLossVerdict(m: NodeLossMeasurement): { outcome: 'passed' | 'failed'; reason: string } {
  const problems: string[] = [];
  const silent = Object.entries(m.apiSeconds)
    .filter(([, s]) => s === null)
    .map(([node]) => node);
  if (silent.length > 0) problems.push(`the API on ${silent.join(', ')} never answered`);
  if (m.servingSeconds === null)
    problems.push('not every tenant served again through every surviving gateway');
  if (m.lost.jobs > 0) problems.push(`${m.lost.jobs} job(s) queued before the kill never ran`);
  if (m.lost.checks > 0) problems.push('no check result after the kill');
  if (m.lost.notifications > 0)
    problems.push(`${m.lost.notifications} notification(s) pending across the kill were not delivered`);
  if (problems.length > 0) return { outcome: 'failed', reason: problems.join('; ') };
  return {
    outcome: 'passed',
    reason: `lost node ${m.node}: the API answered on every other node after ${m.controlPlaneSeconds ?? '?'} s, ${m.tenants.length} tenant(s) served again after ${m.servingSeconds ?? '?'} s; nothing lost`,
  };
}

export async function recordNodeLoss(
  o: { readonly store: DrillStore; readonly audit: AuditService },
  m: NodeLossMeasurement,
  actor: Principal,
): Promise<DrillView> {
  const killedAt = new Date(m.killedAt);
  const verdict = nodeLossVerdict(m);
  const who = actorName(actor);
  const id = await o.store.start(
    {
      kind: 'node-loss',
      stageId: null,
      tenant: null,
      stage: null,
      cluster: controlScope,
      synchronous: true,
      requestedBy: who,
      startedAt: killedAt,
      phase: 'measured',
    },
    (tx, drillId) =>
      o.audit.record(tx, {
        actor: who,
        address: actor.address,
        action: 'drill.start',
        target: `appliance/node/${m.node}/drill/${drillId}`,
        details: { kind: 'node-loss', node: m.node },
      }),
  );
  await o.store.finish(
    id,
    {
      outcome: verdict.outcome,
      reason: verdict.reason,
      endedAt: new Date(killedAt.getTime() + m.durationSeconds * 1000),
      phase: 'measured',
      faultAt: killedAt,
      writesResumeSeconds: m.controlPlaneSeconds,
      oldPrimary: m.oldLeader,
      newPrimary: m.newLeader,
      details: { ...m },
    },
    (tx) =>
      o.audit.record(tx, {
        actor: who,
        action: 'drill.finish',
        target: `appliance/node/${m.node}/drill/${id}`,
        outcome: verdict.outcome === 'passed' ? 'success' : 'failure',
        details: { kind: 'node-loss', outcome: verdict.outcome, reason: verdict.reason },
      }),
  );
  const view = await o.store.get(id);
  if (!view) throw new Error(`drill ${id} vanished`);
  return view;
}
