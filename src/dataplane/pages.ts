import { htmlBody, pages, type GatewayPage } from '../gateway/pages.ts';

/**
 * The pages HAProxy answers itself, rendered once into files under
 * `files.errorDir`: a pure function of nothing, so every node renders the
 * same bytes. They name no tenant and echo nothing the client sent (they
 * are static files, so not even a request id: that is in the response's
 * X-Request-Id header and the access log).
 *
 * Two files a status: `<status>.html`, the body that `http-request return …
 * file` sends with headers of its own (Retry-After), and, for the statuses
 * HAProxy's `errorfile` accepts, `<status>.http`, the whole raw response
 * HAProxy sends for its own errors (a request its parser refused, a stage
 * that does not answer).
 */
export const errorPageStatuses = [
  400, 401, 403, 404, 408, 413, 414, 421, 429, 431, 500, 502, 503, 504,
] as const;
export type ErrorPageStatus = (typeof errorPageStatuses)[number];

/** The statuses HAProxy 2.6 takes an `errorfile` for (the others are only answered by `http-request return`). */
export const errorfileStatuses: readonly ErrorPageStatus[] = [
  400, 403, 404, 408, 413, 429, 500, 502, 503, 504,
];

/** The maintenance page's name: a 503 of its own, apart from the stage-unavailable one. */
export const maintenancePage = 'maintenance';

const byStatus: Readonly<Record<ErrorPageStatus, GatewayPage>> = {
  400: {
    status: 400,
    title: 'Bad request',
    message: 'The request was refused: it is malformed or ambiguous.',
  },
  401: {
    status: 401,
    title: 'Sign-in required',
    message: 'This application needs you to sign in. Open it in your browser to sign in, then try again.',
  },
  403: pages.forbidden,
  404: pages.unknownHost,
  408: {
    status: 408,
    title: 'Request timeout',
    message: 'The request took too long to arrive. Please try again.',
  },
  413: pages.bodyTooLarge,
  414: {
    status: 414,
    title: 'URI too long',
    message: 'The request was refused: its address is longer than this application accepts.',
  },
  421: {
    status: 421,
    title: 'Misdirected request',
    message: 'The request names another host than the connection it was sent on.',
  },
  429: {
    status: 429,
    title: 'Too many requests',
    message: 'Too many requests in a short time. Please wait a moment and try again.',
  },
  431: {
    status: 431,
    title: 'Request header fields too large',
    message: 'The request was refused: its header fields are more or larger than this application accepts.',
  },
  500: {
    status: 500,
    title: 'Internal error',
    message: 'Something went wrong on our side. Please try again in a moment.',
  },
  502: pages.badGateway,
  503: pages.unavailable,
  504: pages.timeout,
};

export interface ErrorPageFile {
  /** A file name under files.errorDir: `404.html`, `404.http`, `maintenance.html`. */
  readonly name: string;
  readonly content: string;
}

function html(page: GatewayPage): string {
  // The request id line of the Node gateway's page has no place in a static file.
  return htmlBody(page, '').replace(/\n<p><code>request id <\/code><\/p>/, '');
}

const reasons: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function raw(status: number, body: string): string {
  const length = Buffer.byteLength(body);
  const close = status === 400 || status === 408 ? 'Connection: close\r\n' : '';
  return `HTTP/1.1 ${status} ${reasons[status] ?? 'Error'}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${length}\r\nCache-Control: no-store\r\n${close}\r\n${body}`;
}

export function renderErrorPages(): ErrorPageFile[] {
  const files: ErrorPageFile[] = [];
  for (const status of errorPageStatuses) {
    const body = html(byStatus[status]);
    files.push({ name: `${status}.html`, content: body });
    if (errorfileStatuses.includes(status))
      files.push({ name: `${status}.http`, content: raw(status, body) });
  }
  files.push({ name: `${maintenancePage}.html`, content: html(pages.maintenance) });
  return files;
}
