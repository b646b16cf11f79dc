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
