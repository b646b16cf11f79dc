import { createHash } from 'node:crypto';
import { InputError, showValue } from '../../core/errors.ts';

/**
 * The stage sandbox as plain data: the bubblewrap argv that gives a stage's
 * process (or a release's build) its own mount, pid and IPC namespaces, the
 * nftables ruleset that limits what its uid may connect to, and the report of
 * how much of that this machine allows. Pure functions only; the driver
 * (driver.ts) runs them.
 *
 * Why these two mechanisms: a network namespace per stage would need a veth
 * pair, addresses and NAT per stage for outbound access and a way for the
 * stage proxy to reach the app's port; matching the socket's uid in one
 * nftables table leaves the app on the host's network (its port reachable by
 * Steward, outbound traffic as configured) and denies every local connection
 * but the few it needs. bubblewrap builds a fresh root from read-only binds,
 * so nothing of Steward's data dir, other stages' files, releases or logs
 * exists inside; `--unshare-pid` with a fresh /proc hides other processes.
 */

export const bwrapPath = '/usr/bin/bwrap';

/** What the host's root looks like: top-level links (`/bin -> usr/bin`) and the read-only system paths that exist. */
export interface HostLayout {
  /** Top-level paths that are symlinks on the host, with their targets. */
  readonly links: readonly (readonly [path: string, target: string])[];
  /** System directories and files to bind read-only (only those that exist). */
  readonly readOnly: readonly string[];
}

/** System paths a stage may read: programs, libraries and the few files of /etc that name resolution and TLS need. */
export const systemPaths = [
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/etc/alternatives',
  '/etc/ca-certificates',
  '/etc/gai.conf',
  '/etc/group',
  '/etc/host.conf',
  '/etc/hosts',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/mime.types',
  '/etc/nsswitch.conf',
  '/etc/passwd',
  '/etc/protocols',
  '/etc/resolv.conf',
  '/etc/services',
  '/etc/ssl',
] as const;

/** The private /tmp's size: a tmpfs lives in memory, and a stage must not fill the machine's. */
export const tmpSizeBytes = 512 * 1024 * 1024;

export interface MountPlan {
  readonly host: HostLayout;
  /** Bound read-only at the same path: the release, the directory of the Node.js binary. */
  readonly readOnly: readonly string[];
  /** Bound read-write at the same path: the stage's files directory, or the release tree being built. */
  readonly writable: readonly string[];
  /** The working directory inside. */
  readonly cwd: string;
  /** False: a network namespace of its own with nothing in it (builds, unless configured otherwise). */
  readonly network: boolean;
  /**
   * One-shot commands (migrate, verify, build) die with Steward's child; a
   * supervised process must outlive Steward to be adopted, so it does not.
   */
  readonly dieWithParent: boolean;
}

function checkPath(field: string, path: string): string {
  if (!path.startsWith('/') || /[\0\n\r]/.test(path) || path.split('/').includes('..')) {
    throw new InputError(
      `sandbox ${field}: ${showValue(path)} is not an absolute path without ".." and control characters`,
      { field },
    );
  }
  return path;
}

/** The bubblewrap argv, up to and including `--`; the command follows. */
export function bwrapArgs(plan: MountPlan): string[] {
  const args = [
    bwrapPath,
    // A user namespace of its own (bwrap runs as the stage's uid, unprivileged), and none further inside.
    '--unshare-user',
    '--disable-userns',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(plan.network ? [] : ['--unshare-net']),
    ...(plan.dieWithParent ? ['--die-with-parent'] : []),
  ];
  for (const [path, target] of plan.host.links) {
    args.push('--symlink', target, checkPath('link', path));
  }
  for (const path of plan.host.readOnly) args.push('--ro-bind', checkPath('system path', path), path);
  args.push('--proc', '/proc', '--dev', '/dev', '--size', String(tmpSizeBytes), '--tmpfs', '/tmp');
  // Parents before children, whatever order they came in; the tmpfs /tmp comes first, so paths under /tmp work.
  const binds = [
    ...plan.readOnly.map((path) => ['--ro-bind', checkPath('read-only path', path)] as const),
    ...plan.writable.map((path) => ['--bind', checkPath('writable path', path)] as const),
  ].sort((a, b) => a[1].split('/').length - b[1].split('/').length || a[1].localeCompare(b[1]));
  for (const [how, path] of binds) args.push(how, path, path);
  // The new root itself (and the directories made for the binds) read-only: writes go to the binds and /tmp or fail.
  args.push('--remount-ro', '/', '--chdir', checkPath('cwd', plan.cwd), '--');
  return args;
}

/**
 * How a sandboxed command is started: `argv` is what every local user sees
 * in ps, so it names no path (a files directory names its tenant); the
 * bubblewrap options come on file descriptor 3 (`--args 3`), NUL-separated.
 */
export interface SandboxInvocation {
  readonly argv: readonly string[];
  /** Written to the child's fd 3, then closed. */
  readonly fd3: string;
}

export function bwrapInvocation(plan: MountPlan): SandboxInvocation {
  const args = bwrapArgs(plan);
  // Without the leading binary and the trailing `--`, which stay on the command line.
  return { argv: [bwrapPath, '--args', '3', '--'], fd3: `${args.slice(1, -1).join('\0')}\0` };
}

export interface StageNetwork {
  readonly uid: number;
  /** The local ports of its own database (its cluster's port). */
  readonly databasePorts: readonly number[];
}

export interface NetworkPlan {
  /** The nftables table of this Steward (see tableName). */
  readonly table: string;
  /** Every uid this Steward hands out: the rules apply to these and to nobody else. */
  readonly uids: { readonly first: number; readonly last: number };
  readonly stages: readonly StageNetwork[];
  /** The gateway's public ports, which any stage may use like any client. */
  readonly publicPorts: readonly number[];
  /** Connections to addresses that are not this machine's. */
  readonly outbound: boolean;
  /** A uid (the builds') that may connect outbound even when stages may not. */
  readonly outboundUid?: number;
}

/** One table per Steward instance, named from its data dir: parallel Stewards on one machine do not collide. */
export function tableName(dataDir: string): string {
  return `steward_${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`;
}

function ports(list: readonly number[]): string {
  const unique = [...new Set(list)].sort((a, b) => a - b);
  for (const port of unique) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InputError(`sandbox port: ${showValue(port)} is not a TCP port (1-65535)`, { field: 'port' });
    }
  }
  return unique.length === 1 ? String(unique[0]) : `{ ${unique.join(', ')} }`;
}

/**
 * The ruleset, for `nft -f`: the table is declared, deleted and made again
 * in one transaction, so applying it twice is the same as once and no packet
 * ever sees half of it. Only new connections are judged: replies of a
 * connection Steward opened to an app's port (established) pass.
 */
export function nftRuleset(plan: NetworkPlan): string {
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(plan.table)) {
    throw new InputError(`sandbox table: ${showValue(plan.table)} is not an nftables table name`, {
      field: 'table',
    });
  }
  const { first, last } = plan.uids;
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last < first) {
    throw new InputError(`sandbox uids: ${first}-${last} is not a range of uids above 0`, { field: 'uids' });
  }
  const local = 'fib daddr type local';
  const rules = [
    'type filter hook output priority filter; policy accept;',
    `meta skuid != ${first}-${last} accept`,
    'ct state established,related accept',
    ...[...plan.stages]
      .sort((a, b) => a.uid - b.uid)
      .filter((stage) => stage.databasePorts.length > 0)
      .map((stage) => {
        if (stage.uid < first || stage.uid > last) {
          throw new InputError(`sandbox stage uid: ${stage.uid} is outside ${first}-${last}`, {
            field: 'uid',
          });
        }
        return `meta skuid ${stage.uid} ${local} tcp dport ${ports(stage.databasePorts)} accept`;
      }),
    ...(plan.publicPorts.length > 0 ? [`${local} tcp dport ${ports(plan.publicPorts)} accept`] : []),
    // Name resolution through a resolver on this machine (127.0.0.53 and the like).
    `${local} meta l4proto { tcp, udp } th dport 53 accept`,
    // Refused, not dropped: a hostile app learns nothing more, and an honest one fails at once instead of timing out.
    `${local} meta l4proto tcp reject with tcp reset`,
    `${local} reject`,
    ...(plan.outbound
      ? []
      : [
          ...(plan.outboundUid !== undefined ? [`meta skuid ${plan.outboundUid} accept`] : []),
          'meta l4proto tcp reject with tcp reset',
          'reject',
        ]),
  ];
  return [
    `table inet ${plan.table}`,
    `delete table inet ${plan.table}`,
    `table inet ${plan.table} {`,
    '  chain output {',
    ...rules.map((rule) => `    ${rule}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Removes the table (after a clean stop: no stage process is left to restrict). */
export function nftDeleteTable(table: string): string {
  return `table inet ${table}\ndelete table inet ${table}\n`;
}

/** What the machine allowed when Steward started; each part is either on or has a reason it is off. */
export interface IsolationProbe {
  /** Steward runs as root: stage processes get uids of their own. */
  readonly root: boolean;
  /** Undefined when bubblewrap works; else why not. */
  readonly mountsUnavailable: string | undefined;
  /** Undefined when the nftables table was applied; else why not. */
  readonly networkUnavailable: string | undefined;
}

export const isolationLevels = ['full', 'reduced'] as const;
export type IsolationLevel = (typeof isolationLevels)[number];

export interface IsolationReport {
  readonly level: IsolationLevel;
  /** Each stage's processes run as a uid of their own. */
  readonly users: boolean;
  /** Each stage's processes see only the system, their release and their files (bubblewrap). */
  readonly mounts: 'bubblewrap' | 'none';
  /** Each stage's uid may connect only to its database and the gateway (nftables). */
  readonly network: 'nftables' | 'none';
  /** Empty at `full`; else what is missing and why, for the operator. */
  readonly reasons: readonly string[];
}

export function isolationReport(probe: IsolationProbe): IsolationReport {
  const reasons: string[] = [];
  if (!probe.root) {
    reasons.push(
      "Steward does not run as root: every stage runs as Steward's own user, without a sandbox, and can read Steward's data dir and every other stage",
    );
  }
  const mounts = probe.root && probe.mountsUnavailable === undefined;
  const network = probe.root && probe.networkUnavailable === undefined;
  if (probe.root && !mounts) {
    reasons.push(
      `no mount sandbox (${probe.mountsUnavailable ?? 'unknown'}): stage processes see the whole file system their uid may read; install bubblewrap`,
    );
  }
  if (probe.root && !network) {
    reasons.push(
      `no network rules (${probe.networkUnavailable ?? 'unknown'}): stage processes can connect to every port on this machine; install nftables`,
    );
  }
  return {
    level: reasons.length === 0 ? 'full' : 'reduced',
    users: probe.root,
    mounts: mounts ? 'bubblewrap' : 'none',
    network: network ? 'nftables' : 'none',
    reasons,
  };
}

/** For `steward up` and the logs: one line at full, a loud block otherwise. */
export function describeIsolation(report: IsolationReport): string {
  if (report.level === 'full') {
    return 'isolation: full (a uid, a bubblewrap sandbox and nftables rules per stage)';
  }
  return [
    'WARNING: REDUCED ISOLATION: tenants are not fully separated from each other and from Steward',
    ...report.reasons.map((reason) => `  - ${reason}`),
  ].join('\n');
}
