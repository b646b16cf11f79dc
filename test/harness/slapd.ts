import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type Change } from 'ldapts';
import { lookupUser, runChecked } from '../../src/system/exec.ts';
import { freePort } from '../../src/system/ports.ts';
import { createCa, issueServerCertificate } from '../../src/tls/ca.ts';

/**
 * A private OpenLDAP slapd (Debian's) for tests: its own config, mdb
 * database and TLS certificate (issued by a CA of its own) in a directory
 * under /tmp, listening on free loopback ports (ldap:// with StartTLS, and
 * ldaps://), run as the `openldap` user. Loaded with slapadd before it
 * starts; changed while it runs through `admin` (the rootdn). Stop it in
 * afterAll.
 */
export interface SlapdPerson {
  readonly uid: string;
  readonly cn?: string;
  readonly sn?: string;
  readonly givenName?: string;
  readonly mail?: string;
}

export interface SlapdGroup {
  readonly cn: string;
  /** uids of the members. */
  readonly members: readonly string[];
}

/** A person as Active Directory shows one (under ou=ad, in a schema with AD's attribute names and OIDs). */
export interface SlapdAdPerson {
  readonly sAMAccountName: string;
  readonly objectGUID: Buffer;
  readonly userAccountControl: number;
  readonly mail?: string;
  readonly displayName?: string;
}

export interface SlapdAdGroup {
  readonly cn: string;
  readonly objectGUID: Buffer;
  /** sAMAccountNames of the members. */
  readonly members: readonly string[];
}

/**
 * AD's attributes and classes under their own OIDs, enough for the
 * active-directory preset: objectGUID (bytes), sAMAccountName,
 * userAccountControl, objectCategory; `user` and `group` as auxiliary
 * classes beside inetOrgPerson and groupOfNames.
 */
const adSchema = `attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID' EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.782 NAME 'objectCategory' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' AUXILIARY MAY ( objectGUID $ sAMAccountName $ userAccountControl $ objectCategory ) )
objectclass ( 1.2.840.113556.1.5.8 NAME 'group' AUXILIARY MAY ( objectGUID $ objectCategory ) )
`;

export interface TestSlapd {
  /** ldap://127.0.0.1:port: StartTLS upgrades it. */
  readonly url: string;
  readonly ldapsUrl: string;
  /** The CA that issued slapd's certificate (for 127.0.0.1). */
  readonly caPem: string;
  readonly baseDn: string;
  readonly peopleDn: string;
  readonly groupsDn: string;
  /** Where the bulk people are. */
  readonly bulkDn: string;
  /** Where the Active Directory people and groups are. */
  readonly adDn: string;
  /** A read-only service account for the sync to bind as. */
  readonly bindDn: string;
  readonly bindPassword: string;
  /** Like bindDn, with the same password, but the server returns at most 2 entries to it. */
  readonly limitedBindDn: string;
  personDn(uid: string): string;
  groupDn(cn: string): string;
  /** Runs `use` with a client bound as the rootdn (over StartTLS). */
  admin<T>(use: (client: Client) => Promise<T>): Promise<T>;
  addPerson(person: SlapdPerson): Promise<void>;
  modify(dn: string, changes: Change | Change[]): Promise<void>;
  remove(dn: string): Promise<void>;
  stop(): Promise<void>;
}

const baseDn = 'dc=acme,dc=example';
const rootDn = `cn=admin,${baseDn}`;
const bindDn = `cn=steward,${baseDn}`;
const limitedBindDn = `cn=limited,${baseDn}`;

export async function startSlapd(data: {
  readonly people: readonly SlapdPerson[];
  readonly groups: readonly SlapdGroup[];
  /** This many more people (bulk0 … bulkN) under ou=bulk, for syncs that take a while. */
  readonly bulk?: number;
  /** People and groups under ou=ad as Active Directory shows them. */
  readonly ad?: { readonly people: readonly SlapdAdPerson[]; readonly groups: readonly SlapdAdGroup[] };
}): Promise<TestSlapd> {
  const openldap = lookupUser('openldap');
  if (!openldap) throw new Error('the openldap user does not exist: install slapd (bin/setup)');
  const dir = await mkdtemp(join(tmpdir(), 'slapd-'));
  await chmod(dir, 0o755);
  // Random per run: nothing in a test's secrets is shared with another run.
  const rootPassword = `root-${crypto.randomUUID()}`;
  const bindPassword = `bind-${crypto.randomUUID()}`;
  const ca = await createCa('Test LDAP CA');
  const server = await issueServerCertificate(ca, ['127.0.0.1', 'localhost']);
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  await writeFile(join(dir, 'server.pem'), server.certPem);
  await writeFile(join(dir, 'server.key'), server.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'ad.schema'), adSchema);
  await mkdir(join(dir, 'db'));
  const conf = join(dir, 'slapd.conf');
  await writeFile(
    conf,
    [
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include /etc/ldap/schema/${s}.schema`),
      `include ${join(dir, 'ad.schema')}`,
      `pidfile ${join(dir, 'slapd.pid')}`,
      `argsfile ${join(dir, 'slapd.args')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `TLSCACertificateFile ${join(dir, 'ca.pem')}`,
      `TLSCertificateFile ${join(dir, 'server.pem')}`,
      `TLSCertificateKeyFile ${join(dir, 'server.key')}`,
      'sizelimit unlimited',
      'database mdb',
      'maxsize 33554432',
      `suffix "${baseDn}"`,
      `rootdn "${rootDn}"`,
      `rootpw ${rootPassword}`,
      `directory ${join(dir, 'db')}`,
      'index objectClass eq',
      `limits dn.exact="${limitedBindDn}" size=2`,
      'access to attrs=userPassword by self write by anonymous auth by * none',
      'access to * by users read by * none',
      '',
    ].join('\n'),
  );
  const peopleDn = `ou=people,${baseDn}`;
  const groupsDn = `ou=groups,${baseDn}`;
  const bulkDn = `ou=bulk,${baseDn}`;
  const adDn = `ou=ad,${baseDn}`;
  const adPersonDn = (sam: string): string => `cn=${sam},${adDn}`;
  const personDn = (uid: string): string => `uid=${uid},${peopleDn}`;
  const groupDn = (cn: string): string => `cn=${cn},${groupsDn}`;
  const ldif = [
    entryLdif(baseDn, { objectClass: ['top', 'dcObject', 'organization'], dc: 'acme', o: 'Acme' }),
    entryLdif(bindDn, {
      objectClass: ['simpleSecurityObject', 'organizationalRole'],
      cn: 'steward',
      userPassword: bindPassword,
    }),
    entryLdif(limitedBindDn, {
      objectClass: ['simpleSecurityObject', 'organizationalRole'],
      cn: 'limited',
      userPassword: bindPassword,
    }),
    entryLdif(peopleDn, { objectClass: 'organizationalUnit', ou: 'people' }),
    entryLdif(groupsDn, { objectClass: 'organizationalUnit', ou: 'groups' }),
    ...data.people.map((p) => entryLdif(personDn(p.uid), personAttributes(p))),
    ...(data.bulk ? [entryLdif(bulkDn, { objectClass: 'organizationalUnit', ou: 'bulk' })] : []),
    ...(data.ad ? [entryLdif(adDn, { objectClass: 'organizationalUnit', ou: 'ad' })] : []),
    ...(data.ad?.people ?? []).map((p) =>
      entryLdif(adPersonDn(p.sAMAccountName), {
        objectClass: ['inetOrgPerson', 'user'],
        cn: p.sAMAccountName,
        sn: p.sAMAccountName,
        sAMAccountName: p.sAMAccountName,
        'objectGUID:': p.objectGUID.toString('base64'),
        userAccountControl: String(p.userAccountControl),
        objectCategory: 'person',
        ...(p.mail ? { mail: p.mail } : {}),
        ...(p.displayName ? { displayName: p.displayName } : {}),
      }),
    ),
    ...(data.ad?.groups ?? []).map((g) =>
      entryLdif(`cn=${g.cn},${adDn}`, {
        objectClass: ['groupOfNames', 'group'],
        cn: g.cn,
        'objectGUID:': g.objectGUID.toString('base64'),
        member: g.members.length > 0 ? g.members.map(adPersonDn) : [`cn=${g.cn},${adDn}`],
      }),
    ),
    ...Array.from({ length: data.bulk ?? 0 }, (_, i) =>
      entryLdif(
        `uid=bulk${i},${bulkDn}`,
        personAttributes({ uid: `bulk${i}`, mail: `bulk${i}@acme.example` }),
      ),
    ),
    ...data.groups.map((g) =>
      entryLdif(groupDn(g.cn), {
        objectClass: 'groupOfNames',
        cn: g.cn,
        // groupOfNames needs a member; an empty group names its own DN, as is customary.
        member: g.members.length > 0 ? g.members.map(personDn) : [groupDn(g.cn)],
      }),
    ),
  ].join('\n');
  await writeFile(join(dir, 'data.ldif'), ldif);
  await runChecked('/usr/sbin/slapadd', ['-q', '-f', conf, '-l', join(dir, 'data.ldif')]);
  await chownTree(dir, openldap.uid, openldap.gid);

  const port = await freePort(0);
  const ldapsPort = await freePort(0);
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  // -d keeps it in the foreground, so it is this process's child and dies with the test run.
  const child: ChildProcess = spawn(
    '/usr/sbin/slapd',
    ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`, '-u', 'openldap', '-g', 'openldap', '-d', '0'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await listening(
      port,
      () => child.exitCode !== null,
      () => stderr,
    );
    await listening(
      ldapsPort,
      () => child.exitCode !== null,
      () => stderr,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const admin = async <T>(use: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ url, timeout: 10_000, connectTimeout: 5_000 });
    try {
      await client.startTLS({ ca: ca.certPem });
      await client.bind(rootDn, rootPassword);
      return await use(client);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  };
  return {
    url,
    ldapsUrl,
    caPem: ca.certPem,
    baseDn,
    peopleDn,
    groupsDn,
    bulkDn,
    adDn,
    bindDn,
    bindPassword,
    limitedBindDn,
    personDn,
    groupDn,
    admin,
    addPerson: (person) => admin((c) => c.add(personDn(person.uid), personAttributes(person))),
    modify: (dn, changes) => admin((c) => c.modify(dn, changes)),
    remove: (dn) => admin((c) => c.del(dn)),
    stop,
  };
}

function personAttributes(p: SlapdPerson): Record<string, string | string[]> {
  return {
    objectClass: ['inetOrgPerson'],
    uid: p.uid,
    cn: p.cn ?? p.uid,
    sn: p.sn ?? p.uid,
    ...(p.givenName ? { givenName: p.givenName } : {}),
    ...(p.mail ? { mail: p.mail } : {}),
  };
}

function entryLdif(dn: string, attributes: Record<string, string | readonly string[]>): string {
  const lines = [`dn: ${dn}`];
  for (const [name, value] of Object.entries(attributes)) {
    for (const v of typeof value === 'string' ? [value] : value) lines.push(`${name}: ${v}`);
  }
  return `${lines.join('\n')}\n`;
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await runChecked('/bin/chown', ['-R', `${uid}:${gid}`, dir]);
  await chown(dir, uid, gid);
}

async function listening(port: number, died: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (died()) throw new Error(`slapd exited while starting: ${log().trim()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`slapd did not listen on port ${port} within 15 s: ${log().trim()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
