import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigInput } from '../../src/core/config.ts';
import type { PagePlace } from '../../src/identity/pages/index.ts';
import type { SessionFor } from '../../src/identity/sessions/index.ts';
import { serveStageFrom } from '../dataplane/serve.ts';
import { httpsFetch, startEchoBackend, type Reply } from '../gateway/support.ts';
import { startTestSteward, type TestSteward } from './steward.ts';

/**
 * A Steward with its data plane (a real HAProxy) and one tenant's prod stage
 * served by an echo app (it answers with the method, URL and headers it
 * received) whose sign-in is required: for the end-to-end tests of issue 13
 * (edge sessions, local users, OIDC, break-glass, roles). One per test file.
 */
export interface IdentityStage {
  readonly t: TestSteward;
  readonly tenant: string;
  readonly stage: string;
  /** The stage's host, `<stage>.<tenant>.localhost`. */
  readonly host: string;
  /** The HTTPS port of the edge (127.0.0.1) and the CA that signed its certificates. */
  readonly port: number;
  readonly ca: string;
  /** Through the edge; `cookie` sets the Cookie header. */
  get(path: string, options?: EdgeRequest): Promise<Reply>;
  /** The headers the app received for a request that reached it (undefined when the edge answered). */
  appHeaders(reply: Reply): Record<string, string> | undefined;
  /** Adds a directory user (and its groups) through the Directory. */
  addUser(
    userName: string,
    options?: { groups?: readonly string[]; email?: string; name?: string },
  ): Promise<string>;
  /** The sign-in place of a host of this Steward (default: the stage's host). */
  place(host?: string): Promise<PagePlace>;
  /** A fresh session cookie for a user (as the sign-in pages open one). */
  signIn(who: SessionFor | string, host?: string): Promise<{ readonly token: string; readonly sid: string }>;
  /** Sets the identity settings through the API and waits for the edge to apply them. */
  configure(body: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export interface EdgeRequest {
  readonly cookie?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly host?: string;
  readonly body?: string;
}

export async function startIdentityStage(
  options: {
    readonly tenant?: string;
    /** The tenant's display name, which the sign-in page shows (default: the slug). */
    readonly displayName?: string;
    readonly signIn?: 'required' | 'optional';
    readonly localUsers?: boolean;
    /** Steward's config beside the harness's (e.g. identity.idpCaFile for the OIDC tests). */
    readonly config?: Partial<ConfigInput>;
  } = {},
): Promise<IdentityStage> {
  const tenant = options.tenant ?? 'acme';
  const stage = 'prod';
  const t = await startTestSteward({
    gateway: true,
    workers: true,
    ...(options.config ? { config: options.config } : {}),
  });
  const app = await startEchoBackend();
  try {
    const ca = await readFile(join(t.dataDir, 'ca.pem'), 'utf8');
    const port = t.steward.gatewayAddress?.port ?? 0;
    const created = await t.request('POST', '/api/v1/tenants', {
      slug: tenant,
      stages: [stage],
      ...(options.displayName ? { displayName: options.displayName } : {}),
    });
    if (created.status !== 201) throw new Error(`tenant not created: ${created.text}`);
    await t.waitForStages(tenant, 'ready', 60_000);
    await serveStageFrom(t, tenant, stage, app.port);
    const host = `${stage}.${tenant}.localhost`;
    const get: IdentityStage['get'] = (path, o = {}) =>
      httpsFetch({
        port,
        host: o.host ?? host,
        path,
        ca,
        method: o.method ?? 'GET',
        headers: { ...(o.cookie ? { cookie: o.cookie } : {}), ...o.headers },
        ...(o.body !== undefined ? { body: o.body } : {}),
      });
    const place: IdentityStage['place'] = async (at = host) => {
      const found = await t.services.authPages.place(at, '127.0.0.1');
      if (!found) throw new Error(`no place for ${at}`);
      return found;
    };
    const harness: IdentityStage = {
      t,
      tenant,
      stage,
      host,
      port,
      ca,
      get,
      appHeaders(reply) {
        if (reply.status !== 200 || !reply.headers['content-type']?.includes('application/json'))
          return undefined;
        try {
          return (JSON.parse(reply.body) as { headers: Record<string, string> }).headers;
        } catch {
          return undefined;
        }
      },
      async addUser(userName, o = {}) {
        const { directory } = t.services;
        const tenantId = (await place()).tenantId;
        const user = await directory.createUser(
          tenantId,
          { userName, email: o.email ?? `${userName}@${tenant}.example`, displayName: o.name ?? userName },
          'local',
        );
        for (const displayName of o.groups ?? []) {
          const group =
            (await directory.findGroup(tenantId, { displayName })) ??
            (await directory.createGroup(tenantId, { displayName }, 'local'));
          await directory.addMembers(tenantId, group.id, [user.id]);
        }
        return user.id;
      },
      place,
      async signIn(who, at) {
        const subject: SessionFor = typeof who === 'string' ? { kind: 'user', userId: who } : who;
        const opened = await t.services.sessions.open(await place(at), subject, ['pwd']);
        return { token: opened.token, sid: opened.sid };
      },
      async configure(body) {
        const res = await t.request('PATCH', `/api/v1/tenants/${tenant}/identity`, body);
        if (res.status !== 200) throw new Error(`identity settings refused: ${res.text}`);
        await t.steward.dataPlane?.refresh();
      },
      async close() {
        await t.close();
        await app.close();
      },
    };
    await harness.configure({
      stage,
      signIn: options.signIn ?? 'required',
      ...(options.localUsers !== undefined ? { localUsers: options.localUsers } : {}),
    });
    return harness;
  } catch (error) {
    await t.close().catch(() => undefined);
    await app.close();
    throw error;
  }
}
