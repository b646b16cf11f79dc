/**
 * The pages the gateway answers itself. They name no tenant and echo nothing
 * the client sent, except the request id the gateway made up.
 */
export interface GatewayPage {
  readonly status: number;
  readonly title: string;
  readonly message: string;
}

export const pages = {
  unknownHost: { status: 404, title: 'Not found', message: 'No application is served at this address.' },
  forbidden: {
    status: 403,
    title: 'Forbidden',
    message: 'Your network address may not reach this application.',
  },
  maintenance: {
    status: 503,
    title: 'Down for maintenance',
    message: 'This application is being maintained. Please try again later.',
  },
  bodyTooLarge: {
    status: 413,
    title: 'Content too large',
    message: 'The request body is larger than this application accepts.',
  },
  badGateway: {
    status: 502,
    title: 'Bad gateway',
    message: 'The application did not answer. Please try again in a moment.',
  },
  unavailable: {
    status: 503,
    title: 'Service unavailable',
    message: 'The application is not available right now. Please try again in a moment.',
  },
  timeout: {
    status: 504,
    title: 'Gateway timeout',
    message: 'The application took too long to answer. Please try again.',
  },
} as const satisfies Record<string, GatewayPage>;

export function htmlBody(page: GatewayPage, requestId: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.status} ${page.title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;color:#1d2733;background:#f4f6f8;margin:0}
main{max-width:34rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 .5rem}.brand{color:#56708a;font-size:.85rem;letter-spacing:.08em;text-transform:uppercase}
code{font-size:.85rem;color:#56708a}</style></head>
<body><main><div class="brand">Steward</div><h1>${page.status} ${page.title}</h1><p>${page.message}</p>
<p><code>request id ${requestId}</code></p></main></body></html>
`;
}
