import { accessLogLine, renderAccessLogRing } from '../../src/dataplane/access-log-stream.ts';

/**
 * Until dp-edge's renderer writes the access log (DataPlaneState.accessLog),
 * this adds the ring and a log-format with the agreed keys to the rendered
 * config. The stand-in format logs the query as the client sent it: what
 * Steward receives is redacted by Steward again (parseAccessLogMessage).
 */
export function withAccessLog(config: string, socketPath: string): string {
  const format = [
    '"ts":%Ts%ms',
    '"id":"%ID"',
    '"client":"%ci"',
    '"method":"%HM"',
    '"host":"%[var(txn.log_host),json(utf8s)]"',
    '"path":"%[var(txn.log_path),json(utf8s)]"',
    '"status":%ST',
    '"ms":%Ta',
    '"bytes":%B',
    '"backend":"%b"',
    '"ua":"%[var(txn.log_ua),json(utf8s)]"',
  ].join(',');
  const rules = [
    `    ${accessLogLine}`,
    `    log-format '{${format}}'`,
    '    unique-id-format %{+X}o%ci%cp%Ts%rt',
    '    http-request set-var(txn.log_host) req.hdr(host)',
    '    http-request set-var(txn.log_path) pathq',
    '    http-request set-var(txn.log_ua) req.hdr(user-agent)',
  ];
  const lines = config.split('\n');
  const bind = lines.findIndex((line, at) => at > 0 && lines[at - 1] === 'frontend fe_https');
  lines.splice(bind + 1, 0, ...rules);
  return [...lines, ...renderAccessLogRing(socketPath)].join('\n');
}
