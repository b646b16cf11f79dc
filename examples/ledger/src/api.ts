/**
 * The HTTP routes: parse the request, call the ledger, answer JSON. No
 * framework: a table of method + path pattern to handler.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from './config.ts';
import type { Pool } from './db.ts';
import {
  absolutePath,
  attachmentPath,
  discardUpload,
  placeUpload,
  receiveUpload,
  sanitiseFileName,
} from './files.ts';
import {
  HttpError,
  inputError,
  integerField,
  notFound,
  parseId,
  readJsonObject,
  sendHtml,
  sendJson,
  stringField,
} from './http.ts';
import { checkAccess, folderAccess, parseGrant, type Folder, type Folders } from './folders.ts';
import type { Identity, RefusalReason } from './identity.ts';
import { invoiceStatuses, type InvoiceStatus, type Ledger } from './ledger.ts';
import { homePage } from './page.ts';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: readonly string[];
  readonly identity: Identity;
  /** Why the request's X-Steward-Identity was refused; null when there was none or it was good. */
  readonly refused: RefusalReason | null;
}

export interface AppDeps {
  readonly config: Config;
  readonly pool: Pool;
  readonly ledger: Ledger;
  readonly folders: Folders;
}

type Handler = (ctx: RequestContext) => Promise<void> | void;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: Handler;
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const currencyPattern = /^[A-Z]{3}$/;
const maxAmountCents = 1_000_000_000_000;

function statusParam(raw: unknown, field: string): InvoiceStatus {
  if (typeof raw === 'string' && (invoiceStatuses as readonly string[]).includes(raw))
    return raw as InvoiceStatus;
  throw inputError(
    field,
    `${JSON.stringify(raw)} is not a status; expected one of ${invoiceStatuses.join(', ')}`,
  );
}

export function createRoutes(deps: AppDeps): Route[] {
  const { config, pool, ledger, folders } = deps;
  const admin = config.adminRole;
  /** 403 unless the user may `need` in the folder (none: open to everyone). */
  const guard = async (
    folderId: number | null,
    identity: Identity,
    need: 'read' | 'write',
  ): Promise<void> => {
    if (folderId === null) return;
    const folder = await folders.get(folderId);
    if (!folder) throw notFound(`folder ${folderId} does not exist`);
    checkAccess(folder, identity, admin, need);
  };
  const visible = async (identity: Identity): Promise<(Folder & { access: string })[]> =>
    (await folders.list())
      .map((f) => ({ ...f, access: folderAccess(f, identity, admin) }))
      .filter((f) => f.access !== 'none');
  const readable = async (identity: Identity): Promise<number[]> =>
    (await visible(identity)).map((f) => f.id);
  const routes: Route[] = [];
  const route = (method: string, path: string, handler: Handler): void => {
    const pattern = new RegExp('^' + path.replace(/:[a-z]+/gi, '([^/]+)') + '$');
    routes.push({ method, pattern, handler });
  };

  route('GET', '/healthz', async ({ res }) => {
    try {
      await Promise.race([
        pool.query('select 1'),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('database did not answer in 900 ms')), 900).unref(),
        ),
      ]);
      sendJson(res, 200, { status: 'ok', release: config.release });
    } catch (error) {
      sendJson(res, 503, {
        status: 'unavailable',
        release: config.release,
        reason: error instanceof Error ? error.message : 'database check failed',
      });
    }
  });

  route('GET', '/', async ({ res, identity }) => {
    const shown = await visible(identity);
    const invoices = await ledger.listInvoices(shown.map((f) => f.id));
    sendHtml(res, 200, homePage(config, identity, shown, invoices));
  });

  // Answers without the database: who the edge says is asking.
  route('GET', '/api/me', ({ res, identity, refused }) => {
    sendJson(res, 200, {
      ...identity,
      tenant: config.tenant,
      stage: config.stage,
      ...(refused ? { refused } : {}),
    });
  });

  route('GET', '/api/folders', async ({ res, identity }) => {
    sendJson(res, 200, { folders: await visible(identity) });
  });

  route('POST', '/api/folders', async ({ req, res, identity }) => {
    if (!identity.roles.includes(admin))
      throw new HttpError(
        403,
        'forbidden',
        `only role ${admin} may create folders; you have ${identity.authenticated ? `roles ${identity.roles.join(', ') || '(none)'}` : 'not signed in'}`,
      );
    const body = await readJsonObject(req);
    const name = stringField(body, 'name', { required: true, max: 100 })!;
    const folder = await folders.create({
      name,
      read: parseGrant(body['read'], 'read'),
      write: parseGrant(body['write'], 'write'),
      createdBy: identity.id,
    });
    sendJson(res, 201, { ...folder, access: folderAccess(folder, identity, admin) });
  });

  route('GET', '/api/folders/:id', async ({ res, params, identity }) => {
    const id = parseId('id', params[0]!);
    await guard(id, identity, 'read');
    const folder = (await folders.get(id))!;
    sendJson(res, 200, {
      ...folder,
      access: folderAccess(folder, identity, admin),
      invoices: await ledger.listInvoices([id], { folderId: id }),
    });
  });

  route('GET', '/api/customers', async ({ res }) => {
    sendJson(res, 200, { customers: await ledger.listCustomers() });
  });

  route('POST', '/api/customers', async ({ req, res, identity }) => {
    const body = await readJsonObject(req);
    const name = stringField(body, 'name', { required: true, max: 200 })!;
    const email = stringField(body, 'email', {
      required: false,
      max: 254,
      pattern: emailPattern,
      accepted: 'an email address like ap@example.com',
    });
    sendJson(res, 201, await ledger.createCustomer({ name, email, createdBy: identity.id }));
  });

  route('GET', '/api/invoices', async ({ res, url, identity }) => {
    const status = url.searchParams.get('status');
    const customer = url.searchParams.get('customerId');
    sendJson(res, 200, {
      invoices: await ledger.listInvoices(await readable(identity), {
        ...(status !== null ? { status: statusParam(status, 'status') } : {}),
        ...(customer !== null ? { customerId: parseId('customerId', customer) } : {}),
      }),
    });
  });

  route('POST', '/api/invoices', async ({ req, res, identity }) => {
    const body = await readJsonObject(req);
    const customerId = integerField(body, 'customerId', 1, Number.MAX_SAFE_INTEGER);
    const amountCents = integerField(body, 'amountCents', 0, maxAmountCents);
    const currency =
      stringField(body, 'currency', {
        required: false,
        max: 3,
        pattern: currencyPattern,
        accepted: 'a three-letter currency code like EUR',
      }) ?? config.currency;
    const description = stringField(body, 'description', { required: false, max: 2000 }) ?? '';
    const folderId =
      body['folderId'] === undefined || body['folderId'] === null
        ? null
        : integerField(body, 'folderId', 1, Number.MAX_SAFE_INTEGER);
    if (folderId !== null && !(await folders.get(folderId)))
      throw inputError('folderId', `folder ${folderId} does not exist`);
    await guard(folderId, identity, 'write');
    sendJson(
      res,
      201,
      await ledger.createInvoice({
        customerId,
        folderId,
        amountCents,
        currency,
        description,
        createdBy: identity.id,
      }),
    );
  });

  route('GET', '/api/invoices/:id', async ({ res, params, identity }) => {
    const { invoice, attachments } = await ledger.getInvoice(parseId('id', params[0]!));
    await guard(invoice.folderId, identity, 'read');
    sendJson(res, 200, { ...invoice, attachments });
  });

  route('POST', '/api/invoices/:id/status', async ({ req, res, params, identity }) => {
    const id = parseId('id', params[0]!);
    await guard((await ledger.getInvoice(id)).invoice.folderId, identity, 'write');
    const body = await readJsonObject(req);
    const status = statusParam(body['status'], 'status');
    sendJson(res, 200, await ledger.changeStatus(id, status, identity.id));
  });

  route('POST', '/api/invoices/:id/attachments', async ({ req, res, url, params, identity }) => {
    const invoiceId = parseId('id', params[0]!);
    const rawName = url.searchParams.get('name') ?? headerValue(req, 'x-file-name');
    if (rawName === undefined || rawName === null || rawName.trim() === '')
      throw inputError('name', 'is required: give the file name as ?name= or an X-File-Name header');
    const fileName = sanitiseFileName(decodeHeaderName(rawName));
    // Refuse before reading a byte when the invoice is missing or not the user's to change.
    await guard((await ledger.getInvoice(invoiceId)).invoice.folderId, identity, 'write');
    const upload = await receiveUpload(req, config.filesDir, invoiceId, config.maxUploadBytes);
    const storedPath = attachmentPath(invoiceId, fileName);
    try {
      const attachment = await ledger.addAttachment(
        {
          invoiceId,
          fileName,
          storedPath,
          sizeBytes: upload.size,
          sha256: upload.sha256,
          contentType: contentTypeOf(req),
          createdBy: identity.id,
        },
        () => placeUpload(upload, config.filesDir, storedPath),
      );
      sendJson(res, 201, attachment);
    } finally {
      await discardUpload(upload);
    }
  });

  route('GET', '/api/invoices/:id/attachments/:attachment', async ({ res, params, identity }) => {
    const invoiceId = parseId('id', params[0]!);
    await guard((await ledger.getInvoice(invoiceId)).invoice.folderId, identity, 'read');
    const attachment = await ledger.getAttachment(invoiceId, parseId('attachment', params[1]!));
    const path = absolutePath(config.filesDir, attachment.storedPath);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw notFound(`the file of attachment ${attachment.id} is missing from the files directory`);
    res.writeHead(200, {
      'content-type': attachment.contentType,
      'content-length': info.size,
      'content-disposition': `attachment; filename="${attachment.fileName}"`,
      'x-content-sha256': attachment.sha256,
      'x-content-type-options': 'nosniff',
    });
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream(path);
      stream.once('error', reject);
      res.once('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
  });

  if (config.debug) {
    // Dev stage only: a request that takes as long as asked, for drain and deploy tests.
    route('GET', '/debug/sleep', async ({ res, url }) => {
      const ms = Number(url.searchParams.get('ms') ?? '1000');
      if (!Number.isInteger(ms) || ms < 0 || ms > 60_000)
        throw inputError('ms', 'expected an integer from 0 to 60000');
      await new Promise((r) => setTimeout(r, ms));
      sendJson(res, 200, { sleptMs: ms });
    });
  }
  return routes;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Header values are Latin-1; a client may percent-encode a UTF-8 name. */
function decodeHeaderName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const contentTypePattern = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i;

function contentTypeOf(req: IncomingMessage): string {
  const raw = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return contentTypePattern.test(raw) ? raw : 'application/octet-stream';
}

export function matchRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): { handler: Handler; params: string[] } {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (r.method === method || (method === 'HEAD' && r.method === 'GET'))
      return { handler: r.handler, params: m.slice(1).map((p) => decodeURIComponent(p)) };
  }
  if (pathMatched) throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
  throw notFound(`no route for ${method} ${path}`);
}
