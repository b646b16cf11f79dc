import { readFileSync } from 'node:fs';
import pino from 'pino';
import type { Services } from '../services.ts';
import { createApiServer } from './server.ts';

/**
 * The API's OpenAPI document, built from the routes alone: no database, no
 * services (routes reach services only inside handlers, which never run here).
 */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const app = await createApiServer({
    services: unreachable('services') as Services,
    logger: pino({ level: 'silent' }),
    version: packageVersion(),
  });
  await app.ready();
  const document = app.swagger() as unknown as Record<string, unknown>;
  await app.close();
  return document;
}

export function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** Any property of it is another such object; calling one says which service a route reached too early. */
function unreachable(path: string): unknown {
  const call = (): never => {
    throw new Error(`${path} was called while building the OpenAPI document`);
  };
  return new Proxy(call, {
    get: (_, name) => (typeof name === 'symbol' ? undefined : unreachable(`${path}.${name}`)),
  });
}
