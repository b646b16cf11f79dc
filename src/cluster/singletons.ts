import type { Healer } from '../alerts/contract.ts';
import type { Config } from '../core/config.ts';
import type { Services } from '../services.ts';
import type { SingletonLoop } from './elector.ts';

/**
 * Every loop `Steward#start` runs, and where it runs when several Steward
 * nodes share one control database (issue 14, part 3):
 *
 * | loop                                   | runs on    | why                                                                                      |
 * | -------------------------------------- | ---------- | ---------------------------------------------------------------------------------------- |
 * | control database watchdog              | every node | watches this process's own connection; see below for what losing it does                |
 * | keyring watcher                        | every node | each process follows master key rotations                                               |
 * | data plane (HAProxy, its route resync) | every node | every node serves                                                                        |
 * | stage runtime                          | every node | runs this node's stage instances                                                         |
 * | job runner                             | every node | claims a job with a session advisory lock: a kill -9 ends the session, the job is free   |
 * | notification dispatcher (outbox)       | every node | claims rows (for update skip locked) with a lease; at least once, one idempotency key    |
 * | audit checkpoints (start, timer, stop) | every node | reads the chain only; signs into this node's own file, one more witness per node         |
 * | backups, exports, LDAP sync: start()   | every node | only enqueue coalescing jobs; the schedules themselves run as jobs                       |
 * | restores: start()                      | every node | cleans this node's own scratch dir (before its job runner starts), enqueues a job        |
 * | check runner                           | operations | its start records "not probing" for every open check: on a second node it would cut a   |
 * |                                        |            | live node's intervals; built-in sync and pruning race                                    |
 * | alert pass, healing's start            | operations | fires and tells; healing's start ends attempts recorded running (the holder's are live)  |
 * | on-call escalation                     | operations | pages by schedule                                                                        |
 * | Steward's watchdog                     | operations | measures this process's check runner: it must run beside it                              |
 * | incident notices, status subscribers,  | operations | timed announcements                                                                      |
 * | maintenance announcements              |            |                                                                                          |
 * | stage resync                           | operations | re-requests every stage's job: on n nodes a running job would run again n times          |
 *
 * The singletons share one lease, `operations`, because the watchdog judges
 * the check runner by this process's own metrics: they move together.
 *
 * A job runs on whichever node claims it: one that works on what lives on a
 * node's own disk (a dedicated cluster under its data dir, a scratch
 * restore) needs that placed or shared; that is the appliance's to decide.
 *
 * Passes that a request triggers (an alert raised through the API settles
 * at once) run on the node that served it, as they did beside the timer
 * before; they rely on the database (row locks, unique idempotency keys).
 * Healing, though, acts only on the holder (healOnHolder): a restart is not
 * a row to claim.
 *
 * Losing the control database: a node's watchdog logs and reconnects (it
 * restarts only an embedded cluster, which only a single node has); its
 * elector cannot renew and stops the singletons at its own deadline, one
 * renew interval before the lease expires and another node may take it.
 * No two nodes work a singleton at once, whichever side of the outage.
 */
export const operationsLease = 'operations';

/** The operations loop's singletons, in the order their start-of-term work runs. */
export function operationsLoops(
  services: Services,
  config: Config,
  resync: () => Promise<void>,
): SingletonLoop[] {
  return [
    {
      name: 'checks',
      everyMs: config.monitoring.tickMs,
      pass: () => services.checkRunner.pass(),
      began: async () => {
        await services.checkRunner.recordNotProbing(
          'Steward was not probing (stopped, restarted or another node took over) since the last probe',
        );
      },
    },
    {
      name: 'alerts',
      everyMs: config.alerts.passSeconds * 1000,
      pass: () => services.alerts.pass(),
      // Attempts recorded running that began before this term: their node is gone.
      began: (term) => services.healing.interruptBefore(term.acquiredAt),
    },
    {
      name: 'on-call',
      everyMs: config.oncall.passSeconds * 1000,
      pass: () => services.oncall.pager.pass(),
      began: () => Promise.resolve(services.oncall.noteLinks()),
    },
    ...(config.watchdog.enabled
      ? [
          {
            name: 'watchdog',
            everyMs: config.watchdog.everySeconds * 1000,
            pass: () => services.watchdog.pass(),
          },
        ]
      : []),
    {
      name: 'incident notices',
      everyMs: config.incidents.passSeconds * 1000,
      pass: () => services.incidentNotices.pass(),
    },
    {
      name: 'status subscribers',
      everyMs: statusEveryMs,
      pass: () => services.status.subscriptions.notifyPass(),
    },
    {
      name: 'maintenance',
      everyMs: config.maintenance.passSeconds * 1000,
      pass: () => services.maintenance.pass(),
    },
    { name: 'resync', everyMs: config.resyncSeconds * 1000, pass: resync, passAtOnce: true },
  ];
}

/** The status page's subscriber pass (StatusService.start's default). */
const statusEveryMs = 30_000;

/**
 * Self-healing where the operations lease is held: an alert pass that a
 * request runs on another node heals nothing; the holder's next pass (a
 * second later by default) does.
 */
export function healOnHolder(healer: Healer, holds: () => boolean): Healer {
  return { heal: (alert, action) => (holds() ? healer.heal(alert, action) : Promise.resolve()) };
}
