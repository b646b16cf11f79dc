import type { Command } from 'commander';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { identityFromFile } from '../backups/logical/age.ts';
import { errorBodyOf } from '../api/client/errors.ts';
import type { paths } from '../api/client/schema.ts';
import type { RequestBody, ResponseBody } from '../api/client/typed.ts';
import { ApiError, type ApiClient } from './client.ts';
import { formatBytes, printJson, printTable, progressReporter } from './output.ts';

/**
 * `steward export <tenant> <stage> > file`, `export list`, `export key set`
 * and `steward import`: thin over the API. Export files stream from and to
 * disk; they are never held in memory.
 */
export interface ExportCliContext {
  readonly client: () => ApiClient;
  readonly json: () => boolean;
}

const enc = encodeURIComponent;
type ImportResult = ResponseBody<paths, '/api/v1/tenants/{tenant}/imports', 'post'>;
type KeyChoice = RequestBody<paths, '/api/v1/tenants/{tenant}/export-key', 'put'>;
const exportMediaType = 'application/vnd.steward.export';

async function errorOf(res: IncomingMessage): Promise<ApiError> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: errorBodyOf keeps the start of the text.
  }
  return new ApiError(res.statusCode ?? 0, errorBodyOf(res.statusCode ?? 0, body));
}

/** One streamed request: the body (a file) goes out as read, the answer comes back as a stream. */
function stream(
  api: ApiClient,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: NodeJS.ReadableStream,
): Promise<IncomingMessage> {
  const url = new URL(path, api.connection.apiUrl);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const all: Record<string, string> = { ...headers };
  if (api.connection.token) all.authorization = `Bearer ${api.connection.token}`;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      { method, headers: all, ...(api.connection.ca ? { ca: api.connection.ca } : {}) },
      (res) => {
        if ((res.statusCode ?? 0) >= 400) errorOf(res).then(reject, reject);
        else resolve(res);
      },
    );
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

export function exportCommands(program: Command, { client, json }: ExportCliContext): void {
  const command = program
    .command('export')
    .description(
      "export a stage's database and files, encrypted with the tenant's age key (see export list, export key)",
    )
    .argument('<tenant>')
    .argument('<stage>')
    .option('--out <file>', 'write the export here instead of standard output')
    .action(async (tenant: string, stage: string, o: { out?: string }) => {
      if (!o.out && process.stdout.isTTY && !json()) {
        throw new Error(
          'the export is binary: redirect it ("> acme-prod.steward-export") or give --out <file>',
        );
      }
      const api = client();
      const progress = progressReporter(true);
      let view = await api.api.post('/api/v1/tenants/{tenant}/stages/{stage}/exports', {
        params: { tenant, stage },
      });
      const started = Date.now();
      while (view.status === 'running') {
        progress.update(`exporting ${tenant}/${stage}: ${Math.round((Date.now() - started) / 1000)} s`);
        await new Promise((r) => setTimeout(r, 500));
        view = await api.api.get('/api/v1/exports/{id}', { params: { id: view.id } });
      }
      if (view.status !== 'succeeded') {
        progress.done();
        throw new Error(`export ${view.id} failed: ${view.reason}`);
      }
      if (json() && !o.out) {
        progress.done();
        return printJson(view);
      }
      const res = await stream(api, 'GET', `/api/v1/exports/${enc(view.id)}/download`, {
        accept: 'application/octet-stream',
      });
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        progress.update(`downloading ${formatBytes(received)} of ${formatBytes(view.sizeBytes ?? 0)}`);
      });
      const target: Writable = o.out ? createWriteStream(o.out, { mode: 0o600 }) : process.stdout;
      await pipeline(res, target, { end: Boolean(o.out) });
      progress.done();
      if (json()) printJson(view);
      else
        process.stderr.write(
          `export ${view.id}: ${formatBytes(view.sizeBytes ?? 0)}, sha256 ${view.sha256 ?? '-'}${o.out ? `, written to ${o.out}` : ''}\n`,
        );
    });

  command
    .command('list')
    .description("list a tenant's exports, newest first")
    .argument('<tenant>')
    .argument('[stage]')
    .action(async (tenant: string, stage: string | undefined) => {
      const api = client().api;
      const exports = stage
        ? await api.all('/api/v1/tenants/{tenant}/stages/{stage}/exports', { params: { tenant, stage } })
        : await api.all('/api/v1/tenants/{tenant}/exports', { params: { tenant } });
      if (json()) return printJson(exports);
      printTable(
        ['id', 'stage', 'status', 'size', 'created', 'sha256'],
        exports.map((e) => [
          e.id,
          e.stage,
          e.status,
          e.sizeBytes === null ? null : formatBytes(e.sizeBytes),
          e.createdAt,
          e.sha256?.slice(0, 16),
        ]),
      );
    });

  command
    .command('key')
    .description("the tenant's export key")
    .command('set')
    .description('set it: an age recipient (age1…), or generate an identity or passphrase (shown once)')
    .argument('<tenant>')
    .option('--recipient <age1…>', 'the public key "age-keygen" printed')
    .option('--generate <kind>', 'identity or passphrase')
    .action(async (tenant: string, o: { recipient?: string; generate?: string }) => {
      const key = await client().api.put('/api/v1/tenants/{tenant}/export-key', {
        params: { tenant },
        // The API names the field and what it accepts when --generate is neither identity nor passphrase.
        body: {
          ...(o.recipient !== undefined ? { recipient: o.recipient } : {}),
          ...(o.generate !== undefined ? { generate: o.generate as KeyChoice['generate'] } : {}),
        },
      });
      if (json()) return printJson(key);
      process.stdout.write(
        `tenant ${tenant}: exports are encrypted with ${key.kind}${key.recipient ? ` to ${key.recipient}` : ''}\n`,
      );
      if (key.identity)
        process.stdout.write(`identity (shown once; keep it, Steward does not):\n${key.identity}\n`);
      if (key.passphrase) process.stdout.write(`passphrase (shown once):\n${key.passphrase}\n`);
    });

  program
    .command('import')
    .description('import an export into a new stage of a tenant')
    .argument('<tenant>')
    .argument('<new-stage>')
    .argument('<file>')
    .option('--key <identity-file>', 'the age identity file (AGE-SECRET-KEY-1…)')
    .option('--passphrase-env <name>', 'the environment variable that holds the passphrase')
    .action(
      async (tenant: string, stage: string, file: string, o: { key?: string; passphraseEnv?: string }) => {
        const headers: Record<string, string> = { 'content-type': exportMediaType };
        if (o.key) {
          const identity = identityFromFile(await readFile(o.key, 'utf8'));
          if (!identity) throw new Error(`${o.key} holds no age identity`);
          headers['x-steward-identity'] = identity;
        } else if (o.passphraseEnv) {
          const passphrase = process.env[o.passphraseEnv];
          if (!passphrase) throw new Error(`the environment variable ${o.passphraseEnv} is empty`);
          headers['x-steward-passphrase'] = passphrase;
        } else {
          throw new Error('give the key: --key <identity file> or --passphrase-env <variable>');
        }
        const size = (await stat(file)).size;
        headers['content-length'] = String(size);
        const progress = progressReporter(true);
        const source = createReadStream(file);
        let sent = 0;
        source.on('data', (chunk) => {
          sent += chunk.length;
          progress.update(
            sent < size ? `uploading ${formatBytes(sent)} of ${formatBytes(size)}` : 'restoring',
          );
        });
        const res = await stream(
          client(),
          'POST',
          `/api/v1/tenants/${enc(tenant)}/imports?stage=${enc(stage)}`,
          headers,
          source,
        );
        const chunks: Buffer[] = [];
        for await (const chunk of res) chunks.push(chunk as Buffer);
        progress.done();
        const result = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ImportResult;
        if (json()) return printJson(result);
        process.stdout.write(
          `imported ${result.from.tenant}/${result.from.stage} (${result.from.createdAt}) into ${result.tenant}/${result.stage}: database ${formatBytes(result.databaseBytes)}, ${result.files} files\n`,
        );
      },
    );
}
