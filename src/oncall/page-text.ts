import type { AlertView } from '../alerts/contract.ts';

/**
 * What a page says, and the HTML of the link pages. Pure. Alert summaries
 * and details can carry what a tenant controls (a check's response body,
 * an Alertmanager label): bounded in text, escaped in HTML.
 */
export interface PageLinks {
  readonly acknowledge: string;
  readonly resolve: string;
  readonly expiresAt: Date;
}

export function pageSubject(alert: AlertView, round: number): string {
  const again = round > 0 ? ` (reminder ${round})` : '';
  return `[${alert.severity}] Alert ${alert.id}: ${alert.summary}${again}`;
}

export function pageBody(input: { alert: AlertView; why: string; links: PageLinks | undefined }): string {
  const { alert, why, links } = input;
  const where = alert.tenant ? `Tenant ${alert.tenant}${alert.stage ? `, stage ${alert.stage}` : ''}\n` : '';
  const details = JSON.stringify(alert.details, null, 2);
  return [
    `${alert.severity.toUpperCase()} alert ${alert.id}: ${alert.summary}`,
    `${where}Fired at ${alert.firedAt ?? alert.startedAt}${alert.flapping ? ' (flapping)' : ''}`,
    why,
    '',
    ...(links
      ? [
          `Acknowledge: ${links.acknowledge}`,
          `Resolve:     ${links.resolve}`,
          `Each link asks you to confirm, works once, and expires at ${links.expiresAt.toISOString()}.`,
          '',
        ]
      : []),
    `Or: steward alert ack ${alert.id}   /   steward alert resolve ${alert.id} --note "…"`,
    '',
    `Details: ${details.length > 4000 ? `${details.slice(0, 4000)}…` : details}`,
  ].join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

function page(title: string, inner: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)} - Steward</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}button{font-size:1.1rem;padding:.5rem 1.5rem}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${inner}
</body></html>
`;
}

/** GET: what the link would do, and a button that does it (a mail scanner fetching the link acts on nothing). */
export function confirmPage(input: {
  alert: AlertView;
  action: 'acknowledge' | 'resolve';
  recipient: string;
}): string {
  const { alert, action, recipient } = input;
  const verb = action === 'acknowledge' ? 'Acknowledge' : 'Resolve';
  const state =
    alert.status === 'resolved' || (alert.status === 'acknowledged' && action === 'acknowledge')
      ? `<p><strong>This alert is already ${escapeHtml(alert.status)}.</strong></p>`
      : '';
  return page(
    `${verb} alert ${alert.id}?`,
    `<p>${escapeHtml(alert.severity)}: ${escapeHtml(alert.summary)}</p>
<p>Status: ${escapeHtml(alert.status)}${alert.tenant ? `; tenant ${escapeHtml(alert.tenant)}` : ''}${alert.stage ? `, stage ${escapeHtml(alert.stage)}` : ''}</p>
${state}<form method="post"><button type="submit">${verb} as ${escapeHtml(recipient)}</button></form>
<p>This link works once.</p>`,
  );
}

export function donePage(alert: AlertView, action: 'acknowledge' | 'resolve', recipient: string): string {
  const done = action === 'acknowledge' ? 'acknowledged' : 'resolved';
  return page(
    `Alert ${alert.id} ${done}`,
    `<p>${escapeHtml(alert.summary)}</p><p>${done[0]?.toUpperCase()}${done.slice(1)} by ${escapeHtml(recipient)}; escalation has stopped.</p>`,
  );
}

export function errorPage(title: string, message: string): string {
  return page(title, `<p>${escapeHtml(message)}</p>`);
}
