import { strippedRequestHeaders } from '../gateway/headers.ts';
import type { GatewayLimits } from '../gateway/limits.ts';
import { accessLogFormat, accessLogUserAgentMax, redactedPathSample } from './access-log.ts';
import { accessLogLine } from './access-log-stream.ts';
import { maintenancePage } from './pages.ts';

/**
 * The edge's request rules in HAProxy's words: the checks the Node gateway
 * made before it was retired (the cases in test/gateway/hostile-cases.ts),
 * the owned headers of src/gateway/headers.ts, the limits
 * of GatewayLimits as stick tables, and the stage rules (allow list,
 * maintenance, tenant rate). Pure text builders; config.ts puts them into
 * the frontend and the stage backends.
 *
 * What HAProxy's own HTTP parser already refuses with 400 before any rule
 * runs: a Transfer-Encoding other than chunked, a bad chunk size, more than
 * one Host, an absolute-form target whose authority differs from Host, a
 * fragment, spaces or controls in the target, HTTP/0.9. What it normalises
 * instead of refusing (equally safe: the stage gets one unambiguous request):
 * repeated equal Content-Lengths become one, obs-fold becomes a space, bare
 * LF line ends are read as CRLF, a message with Content-Length and
 * Transfer-Encoding is read as chunked, its Content-Length dropped and the
 * connection closed after the answer.
 *
 * Bodies, exactly: a Content-Length over maxBodyBytes is 413 before a byte
 * goes on. Every body's first chunkedBodyLimit()+1 bytes (all of it when
 * smaller) must arrive within bodyIdleTimeoutMs of the head, or the answer
 * is 408; a body without Content-Length (chunked, or HTTP/2 without
 * content-length) is held until it is complete or past chunkedBodyLimit()
 * and then 413, so none over it reaches a stage. After those first bytes,
 * HAProxy 2.6 stops timing the client (it waits on the stage): a body that
 * stalls later is cut when the stage gives up (timeout server, 60 s).
 * requestTimeoutMs (the whole request) has no HAProxy counterpart; the
 * head's and the body's timeouts bound it.
 */

/** The stick tables (backends holding only a table): per client address, per tenant. */
export const addressTable = 'tb_address';
export const tenantTable = 'tb_tenant';

/**
 * Rates as HAProxy counts them: requests over a sliding window. A window of
 * burst/rate seconds that admits `burst` requests allows exactly `burst` at
 * once after a quiet spell and `rate` per second sustained: the token
 * bucket's two numbers.
 */
export function rateWindowMs(ratePerSecond: number, burst: number): number {
  return Math.max(1, Math.round((burst / ratePerSecond) * 1000));
}

/**
 * The buffer HAProxy reads a request into: the whole head must fit (headers
 * plus target plus HAProxy's 1 KiB rewrite reserve), and a body without a
 * Content-Length is held in it until it is known to fit the limit.
 */
export function bufferBytes(limits: GatewayLimits): number {
  const head = limits.maxHeaderBytes + limits.maxTargetBytes + 2048;
  const wanted = head + Math.min(limits.maxBodyBytes, 16 * 1024) + 4096;
  let size = 16 * 1024;
  while (size < wanted) size *= 2;
  return size;
}

/**
 * The largest body without a Content-Length (chunked HTTP/1.1, HTTP/2
 * without content-length) the edge passes: HAProxy 2.6 cannot count a
 * streamed body, so it holds such a body in its buffer and refuses it with
 * 413 if it is larger than this. Never more than maxBodyBytes; with the
 * defaults 36 KiB. A body with a Content-Length is bounded by maxBodyBytes.
 */
export function chunkedBodyLimit(limits: GatewayLimits): number {
  const room = bufferBytes(limits) - limits.maxHeaderBytes - limits.maxTargetBytes - 4096;
  return Math.max(1, Math.min(limits.maxBodyBytes, room));
}

/** HAProxy's header slots: twice the count limit, so that the count rule answers 431 rather than the parser 400. */
export function headerSlots(limits: GatewayLimits): number {
  return Math.min(32_767, Math.max(101, limits.maxHeaderCount * 2));
}

export interface EdgeFiles {
  readonly errorDir: string;
}

/** `http-request return` with a branded page and optional headers (log-format values). */
export function answer(
  files: EdgeFiles,
  status: number,
  condition: string,
  options: { page?: string; headers?: Readonly<Record<string, string>> } = {},
): string {
  const headers = Object.entries(options.headers ?? {})
    .map(([name, value]) => ` hdr ${name} ${value}`)
    .join('');
  return `    http-request return status ${status} content-type "text/html; charset=utf-8" file ${files.errorDir}/${options.page ?? String(status)}.html${headers} if ${condition}`;
}

/**
 * The client's request, before it is routed: connection cap and address
 * rate, then every check of target.ts and headers.ts that HAProxy's parser
 * leaves to us, then the owned headers stripped and the forwarding headers
 * set. The order is the Node gateway's: malformed is 400/414/431/421 before
 * any limit counts it as a request worth serving.
 */
export function edgeRequestRules(
  files: EdgeFiles,
  limits: GatewayLimits,
  options: { accessLog: boolean },
): string[] {
  const addressWindow = rateWindowMs(limits.addressRatePerSecond, limits.addressBurst);
  const lines = [
    `    timeout client ${limits.bodyIdleTimeoutMs}ms`,
    `    timeout http-request ${limits.headersTimeoutMs}ms`,
    `    timeout http-keep-alive ${limits.keepAliveTimeoutMs}ms`,
    // Past the cap the TCP connection is closed before TLS: no handshake to spend CPU on.
    `    tcp-request connection track-sc0 src table ${addressTable}`,
    `    tcp-request connection reject if { sc0_conn_cur gt ${limits.maxConnectionsPerAddress} }`,
    ...requestVariables(options),
    '    http-request set-var(txn.sni) ssl_fc_sni,lower,regsub(\\.$,)',
    '    acl good_version req.ver 1.0 1.1 2.0',
    // The common methods are matched as numbers; only another one is looked at letter by letter.
    '    acl known_method method GET HEAD POST PUT DELETE OPTIONS PATCH',
    '    acl upper_method method -m reg ^[A-Z][A-Z-]*$',
    // A DNS name (labels of a-z, 0-9, '_' and '-') or a bracketed IPv6 literal; userinfo, empty labels, anything else: no.
    '    acl good_host var(txn.host) -m reg ^(\\[[0-9a-f:.]+\\]|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*)$',
    '    acl good_port req.hdr(host) -m reg ^(\\[[0-9a-fA-F:.]+\\]|[^][:]+)(:[0-9]{1,5})?$',
    // Only a Host with a port or brackets needs the port's regex; one without is a name good_host checks.
    '    acl host_port_or_literal req.hdr(host) -m sub : [ ]',
    '    acl one_host req.hdr_cnt(host) eq 1',
    // Rejected, not decoded: a stage that decodes %2f before routing would see another path than the edge did.
    '    acl bad_path path -m reg -i (%2f|%5c|%0[0-9a-f]|%1[0-9a-f]|%7f|%(?![0-9a-f]{2}))',
    '    acl dot_segment path -m reg -i /(\\.|%2e){1,2}(/|$)',
    // Cheap substring guards: the regexes above run only on a path that could match them.
    '    acl path_percent path -m sub %',
    '    acl path_dot path -m sub -i /. /%2e',
    '    acl absolute_form url -m beg -i http:// https://',
    // Origin-form or an http(s) URL: not asterisk-form (OPTIONS *), not authority-form.
    '    acl origin_form url -m beg /',
    // A Connection list may not drop framing: the body would reach the stage unframed, as a request of its own.
    '    acl bad_connection req.hdr(connection) -m str -i host content-length transfer-encoding',
    '    acl has_length req.hdr_cnt(content-length) gt 0',
    // Exactly `chunked`, once: the only coding the edge and every stage read alike.
    '    acl bad_coding req.hdr_cnt(transfer-encoding) gt 1',
    '    acl has_coding req.hdr_cnt(transfer-encoding) gt 0',
    '    acl http1 req.ver 1.0 1.1',
    // More than maxHeaderCount headers: at least maxHeaderCount commas in the list of names. The commas are
    // counted only in a list long enough to hold them (n names make at least 2n-1 characters).
    `    acl many_header_names req.hdr_names,length ge ${2 * limits.maxHeaderCount + 1}`,
    `    acl too_many_headers 'req.hdr_names,regsub("[^,]","",g),length' ge ${limits.maxHeaderCount}`,
    `    acl headers_too_large req.hdrs,length gt ${limits.maxHeaderBytes}`,
    `    acl target_too_long url,length gt ${limits.maxTargetBytes}`,
    '    acl has_sni ssl_fc_has_sni',
    '    acl same_host var(txn.host),strcmp(txn.sni) eq 0',
    answer(files, 414, 'target_too_long'),
    answer(files, 431, 'many_header_names too_many_headers'),
    answer(files, 431, 'headers_too_large'),
    answer(files, 400, '!good_version'),
    answer(files, 400, '!known_method !upper_method'),
    '    http-request deny deny_status 405 if METH_CONNECT',
    answer(files, 400, '!origin_form !absolute_form'),
    answer(files, 400, '!one_host'),
    answer(files, 400, '!good_host'),
    answer(files, 400, 'host_port_or_literal !good_port'),
    answer(files, 400, 'path_percent bad_path'),
    answer(files, 400, 'path_dot dot_segment'),
    answer(files, 400, 'bad_connection'),
    answer(files, 400, 'bad_coding'),
    // The connection's TLS name and the request's host agree, on every request of a kept-alive connection.
    answer(files, 421, 'has_sni !same_host'),
    answer(files, 413, `has_length { req.body_size gt ${limits.maxBodyBytes} }`),
    // The body's first bytes (all of it when small) are held until they arrive: a body that stalls there gets
    // 408 (HAProxy stops timing the client once a request is forwarded), and one without Content-Length is
    // known to fit the limit or not (HAProxy cannot count a stream).
    // Only a request that may have a body waits: HTTP/1 announces one by Content-Length or Transfer-Encoding
    // (without either it has none); HTTP/2 always may. A bodyless HTTP/1 request skips the action.
    `    http-request wait-for-body time ${limits.bodyIdleTimeoutMs}ms at-least ${chunkedBodyLimit(limits) + 1} if has_length || has_coding || !http1`,
    answer(files, 413, `!has_length { req.body_size gt ${chunkedBodyLimit(limits)} }`),
    // The client address's rate: `excess` requests over the window's allowance; Retry-After is the time
    // the window takes to let that many go (rounded up), as the Node gateway's token bucket answers. Every
    // request counts, refused ones too: a client that keeps hammering stays refused until it slows down.
    `    http-request set-var(txn.address_excess) sc_http_req_rate(0),sub(${limits.addressBurst})`,
    answer(files, 429, '{ var(txn.address_excess) -m int gt 0 }', {
      headers: {
        'Retry-After': `%[var(txn.address_excess),mul(${addressWindow}),div(${limits.addressBurst}),add(999),div(1000)]`,
      },
    }),
    // An absolute-form target goes on in origin form; its authority already equals Host (the parser's rule).
    '    http-request set-uri %[pathq] if absolute_form',
  ];
  lines.push(...strippedHeaderRules());
  lines.push(
    '    http-request set-header X-Forwarded-For %[src]',
    '    http-request set-header X-Forwarded-Proto https',
    '    http-request set-header X-Forwarded-Host %[req.hdr(host),lower]',
    '    http-request set-header X-Request-Id %[unique-id]',
    '    http-after-response set-header X-Request-Id %[unique-id]',
  );
  return lines;
}

/**
 * The request's id, its routing key (lower case, the port and one trailing
 * dot removed) and, with an access log, what the log line needs of the
 * request, kept in variables because the request is gone when it is written.
 */
export function requestVariables(options: { accessLog: boolean }): string[] {
  return [
    '    unique-id-format %[uuid()]',
    '    http-request set-var(txn.host) req.hdr(host),lower,regsub(:[0-9]+$,),regsub(\\.$,)',
    ...(options.accessLog
      ? [
          `    http-request set-var(txn.path) '${redactedPathSample()}'`,
          `    http-request set-var(txn.ua) req.hdr(user-agent),bytes(0,${accessLogUserAgentMax})`,
        ]
      : []),
  ];
}

/**
 * Every header on the owned list, by name and by prefix, in any case: one
 * rule, one pass over the request's headers with one (JIT-compiled) regex,
 * where a rule per name walked the headers some 50 times a request.
 */
export function strippedHeaderRules(): string[] {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const names = strippedRequestHeaders.names.map(escape).join('|');
  const prefixes = strippedRequestHeaders.prefixes.map((prefix) => `${escape(prefix)}.*`).join('|');
  return [`    http-request del-header '(?i)^(${names}|${prefixes})$' -m reg`];
}

export interface StageRuleInput {
  readonly name: string;
  readonly tenant?: string | undefined;
}

export interface StageFiles extends EdgeFiles {
  readonly allowDir: string;
  readonly maintenanceMap: string;
  readonly tenantLimits: string;
}

/** An unrestricted stage's allow list: every IPv4 and every IPv6 address. */
export const allowEveryone: readonly string[] = ['0.0.0.0/0', '::/0'];

/**
 * The text of a stage's allow list file: its ranges (already checked, e.g.
 * by parseAllowList), or everyone when the stage has no list. An empty list
 * is an empty file: nobody.
 */
export function allowListText(ranges: readonly string[] | undefined): string {
  const lines = ranges ?? allowEveryone;
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** The allow list file of a stage backend: one address or CIDR range a line. */
export function allowListFile(files: Pick<StageFiles, 'allowDir'>, backend: string): string {
  return `${files.allowDir}/${backend}.acl`;
}

/**
 * A stage backend's rules for requests from the edge (frontend fe_https;
 * Steward's own probes on fe_stages skip them): allow list (403), then
 * maintenance (503), then the tenant's rate (429), as the Node gateway
 * orders them. Then the stage's name for the activator.
 */
export function stageRules(files: StageFiles, limits: GatewayLimits, backend: StageRuleInput): string[] {
  const window = rateWindowMs(limits.tenantRatePerSecond, limits.tenantBurst);
  const lines = [
    '    acl from_edge fe_name fe_https',
    answer(files, 403, `from_edge !{ src -f ${allowListFile(files, backend.name)} }`),
    answer(files, 503, `from_edge { be_name,map(${files.maintenanceMap}) -m found }`, {
      page: maintenancePage,
      headers: { 'Retry-After': '300' },
    }),
  ];
  if (backend.tenant !== undefined) {
    lines.push(
      `    http-request track-sc1 str(${backend.tenant}) table ${tenantTable} if from_edge`,
      // The tenant's rate from the map (the controller sets it by tier, at runtime), the default otherwise;
      // its allowance over the tenant window.
      `    http-request set-var(txn.tenant_allowance) str(${backend.tenant}),map_str_int(${files.tenantLimits},0),mul(${window}),div(1000) if from_edge`,
      `    http-request set-var(txn.tenant_allowance) int(${limits.tenantBurst}) if from_edge { var(txn.tenant_allowance) -m int eq 0 }`,
      '    http-request set-var(txn.tenant_excess) sc_http_req_rate(1),sub(txn.tenant_allowance) if from_edge',
      // Requests in flight: sc1 tracks each of the tenant's requests until it ends.
      answer(files, 503, `from_edge { sc1_conn_cur gt ${limits.maxConcurrentRequestsPerTenant} }`, {
        headers: { 'Retry-After': '1' },
      }),
      answer(files, 429, 'from_edge { var(txn.tenant_excess) -m int gt 0 }', {
        headers: {
          'Retry-After': `%[var(txn.tenant_excess),mul(${window}),div(txn.tenant_allowance),add(999),div(1000)]`,
        },
      }),
    );
  }
  lines.push(`    http-request set-header X-Steward-Stage ${backend.name}`);
  return lines;
}

/** The stick tables: sizes from the limits, entries kept as long as their window. */
export function tableSections(limits: GatewayLimits): string[] {
  const addressWindow = rateWindowMs(limits.addressRatePerSecond, limits.addressBurst);
  const tenantWindow = rateWindowMs(limits.tenantRatePerSecond, limits.tenantBurst);
  return [
    `backend ${addressTable}`,
    `    stick-table type ipv6 size ${limits.maxTrackedAddresses} expire ${Math.max(addressWindow, 60_000)}ms store conn_cur,http_req_rate(${addressWindow}ms)`,
    '',
    `backend ${tenantTable}`,
    `    stick-table type string len 64 size ${limits.rateLimitMaxKeys} expire ${Math.max(tenantWindow, 60_000)}ms store conn_cur,http_req_rate(${tenantWindow}ms)`,
    '',
  ];
}

/** A frontend's access log: into the ring that forwards to Steward (access-log-stream.ts), in the JSON format. */
export function accessLogLines(socket: string | undefined): string[] {
  if (socket === undefined) return [];
  return [`    ${accessLogLine}`, `    log-format '${accessLogFormat()}'`];
}
