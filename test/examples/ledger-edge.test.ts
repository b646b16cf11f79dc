import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { request } from 'node:https';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayLimitDefaults } from '../../src/gateway/limits.ts';
import { freePort } from '../../src/system/ports.ts';
import { startEdge, stopEdge, type Edge } from '../dataplane/edge-support.ts';
import type { Backend } from '../gateway/hostile-cases.ts';
import { ledgerDir } from '../harness/ledger.ts';

/**
 * The sample app behind the real edge (HAProxy from the rendered config):
 * an X-Steward-Identity a client sends never reaches the app, not even a
 * token that is good (one a user lifted from its own session): the edge
 * strips it, so the app sees no header at all. The same tokens sent to the
 * app directly show the other half: the good one names the user, a forged
 * one is refused. /api/me needs no database, so no Steward runs here.
 */
const identityKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let edge: Edge;
let app: ChildProcess;
let appPort: number;
let output = '';

const token = (claims: Record<string, unknown> = {}): Promise<string> =>
  new SignJWT({
    iss: 'steward',
    tenant: 'acme',
    stage: 'prod',
    groups: ['Finance'],
    roles: ['admin'],
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setSubject('u-1')
    .setExpirationTime('5m')
    .sign(identityKey.privateKey);

function viaEdge(headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: edge.port,
        path: '/api/me',
        servername: 'prod.acme.localhost',
        headers: { host: 'prod.acme.localhost', ...headers },
        ca: edge.fixture.ca.certPem,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const direct = async (headers: Record<string, string>): Promise<any> =>
  (await fetch(`http://127.0.0.1:${appPort}/api/me`, { headers })).json();

beforeAll(async () => {
  appPort = await freePort(0);
  const jwks = {
    keys: [{ ...(await exportJWK(identityKey.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }],
  };
  app = spawn(process.execPath, ['src/server.ts'], {
    cwd: ledgerDir,
    env: {
      PATH: process.env['PATH'] ?? '',
      PORT: String(appPort),
      // Never connected to: /api/me answers without the database.
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      STEWARD_FILES_DIR: '/nonexistent',
      STEWARD_TENANT: 'acme',
      STEWARD_STAGE: 'prod',
      STEWARD_IDENTITY_JWKS: JSON.stringify(jwks),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  app.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  app.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  for (let i = 0; !output.includes('"msg":"listening"'); i++) {
    if (i > 300 || app.exitCode !== null) throw new Error(`the ledger did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const unused = { port: await freePort(0) } as Backend;
  edge = await startEdge({ acme: { port: appPort } as Backend, globex: unused }, gatewayLimitDefaults);
});

afterAll(async () => {
  if (edge) await stopEdge(edge);
  app?.kill('SIGKILL');
});

describe('the sample app behind the edge', () => {
  it('never receives a client-sent X-Steward-Identity, good or forged; sent directly, the good one counts and the forged one is refused', async () => {
    const good = await token();
    const [h, , s] = good.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ iss: 'steward', sub: 'root', tenant: 'acme', stage: 'prod', roles: ['admin'], exp: 9e9 })).toString('base64url')}.${s}`;
    for (const sent of [good, forged]) {
      const reply = await viaEdge({ 'X-Steward-Identity': sent, 'x-steward-identity-extra': sent });
      expect(reply.status).toBe(200);
      // No `refused`: the header never arrived.
      expect(reply.body).toEqual(
        expect.objectContaining({ authenticated: false, id: 'anonymous', tenant: 'acme' }),
      );
      expect(reply.body.refused).toBeUndefined();
    }
    expect(await direct({ 'X-Steward-Identity': good })).toMatchObject({
      authenticated: true,
      id: 'u-1',
      roles: ['admin'],
    });
    expect(await direct({ 'X-Steward-Identity': forged })).toMatchObject({
      authenticated: false,
      refused: 'signature',
    });
    expect(output).not.toContain(s!);
  });
});
