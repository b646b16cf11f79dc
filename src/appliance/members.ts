import type { ControlMemberRoles } from '../cluster/index.ts';
import type { ApplianceSettings } from './config.ts';

/**
 * The control database's member roles for `steward node list`: asked of
 * Patroni's REST API (`GET /cluster`, read-only, no credentials needed) on
 * the first node that answers; a node whose member is not in the answer has
 * none running (its role shows as "-").
 */
export function controlMemberRoles(appliance: ApplianceSettings, timeoutMs = 1000): ControlMemberRoles {
  return {
    async roles() {
      for (const node of appliance.nodes) {
        const host = node.host.includes(':') ? `[${node.host}]` : node.host;
        try {
          const res = await fetch(`http://${host}:${node.patroniPort}/cluster`, {
            signal: AbortSignal.timeout(timeoutMs),
          });
          if (!res.ok) continue;
          const body = (await res.json()) as { members?: { name: string; role: string; state: string }[] };
          return new Map((body.members ?? []).map((m) => [m.name, `${m.role} (${m.state})`]));
        } catch {
          // that node's Patroni is down: ask the next
        }
      }
      return new Map();
    },
  };
}

/**
 * Whether the control cluster can lose any one node without losing a
 * commit or its availability: every node's member runs, one leads, and a
 * synchronous standby is there to take over (in synchronous mode Patroni
 * promotes only that one). Undefined when healthy, else why not.
 */
export function unhealthyBecause(
  appliance: ApplianceSettings,
  roles: ReadonlyMap<string, string>,
): string | undefined {
  const missing = appliance.nodes
    .map((n) => n.name)
    .filter((name) => !/\((running|streaming)\)$/.test(roles.get(name) ?? ''));
  if (missing.length > 0)
    return `members not running: ${missing.map((n) => `${n} ${roles.get(n) ?? '-'}`).join(', ')}`;
  const all = [...roles.values()];
  if (all.filter((r) => r.startsWith('leader')).length !== 1) return 'no single leader';
  if (!all.some((r) => r.startsWith('sync_standby'))) return 'no synchronous standby yet';
  return undefined;
}
