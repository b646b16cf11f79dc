import { describe, expect, it } from 'vitest';
import { flattenHeaders, upstreamHeaders, type UpstreamHeadersInput } from '../../../src/gateway/headers.ts';
import { gatewayLimitDefaults } from '../../../src/gateway/limits.ts';

function input(
  rawHeaders: readonly string[],
  change: Partial<UpstreamHeadersInput> = {},
): UpstreamHeadersInput {
  return {
    rawHeaders,
    clientAddress: '203.0.113.9',
    proto: 'https',
    authority: 'acme.localhost:8443',
    requestId: 'req-1',
    limits: gatewayLimitDefaults,
    ...change,
  };
}

function names(decision: ReturnType<typeof upstreamHeaders>): string[] {
  if (decision.kind !== 'ok') throw new Error(`refused: ${decision.reason}`);
  return decision.headers.map(([name]) => name.toLowerCase());
}

function header(decision: ReturnType<typeof upstreamHeaders>, name: string): string[] {
  if (decision.kind !== 'ok') throw new Error(`refused: ${decision.reason}`);
  return decision.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

describe('upstream headers', () => {
  it('keeps end-to-end headers in order and sets the gateway headers last', () => {
    const decision = upstreamHeaders(
      input([
        'Host',
        'ACME.localhost:8443',
        'Accept',
        'text/html',
        'Cookie',
        'a=1',
        'Authorization',
        'Bearer x',
      ]),
    );
    expect(decision).toEqual({
      kind: 'ok',
      body: { kind: 'none' },
      headers: [
        ['Host', 'acme.localhost:8443'],
        ['Accept', 'text/html'],
        ['Cookie', 'a=1'],
        ['Authorization', 'Bearer x'],
        ['X-Forwarded-For', '203.0.113.9'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Forwarded-Host', 'acme.localhost:8443'],
        ['X-Request-Id', 'req-1'],
      ],
    });
  });

  it.each([
    ['Connection', 'keep-alive'],
    ['Keep-Alive', 'timeout=5'],
    ['Proxy-Connection', 'keep-alive'],
    ['TE', 'trailers'],
    ['Trailer', 'X-Checksum'],
    ['Upgrade', 'websocket'],
    ['Proxy-Authorization', 'Basic eA=='],
    ['HTTP2-Settings', 'AAMAAABkAAQAAP__'],
    ['X-Forwarded-For', '10.0.0.1'],
    ['x-forwarded-host', 'globex.localhost'],
    ['X-Forwarded-Proto', 'http'],
    ['X-Forwarded-Port', '80'],
    ['X-Forwarded-Prefix', '/admin'],
    ['Forwarded', 'for=10.0.0.1;host=globex.localhost'],
    ['X-Real-IP', '10.0.0.1'],
    ['X-Client-IP', '10.0.0.1'],
    ['True-Client-IP', '10.0.0.1'],
    ['X-Request-Id', 'forged'],
    ['X-Steward-User-Id', 'admin'],
    ['X-STEWARD-USER-EMAIL', 'ceo@acme.example'],
    ['X-Steward-Tenant', 'globex'],
    ['X-Original-URL', '/admin'],
    ['X-Rewrite-URL', '/admin'],
    ['Proxy', 'http://evil.example'],
  ])('drops %s from the client', (name, value) => {
    const decision = upstreamHeaders(input(['Host', 'acme.localhost', name, value, 'Accept', '*/*']));
    const sent = header(decision, name.toLowerCase());
    // A gateway-owned header is present once, with the gateway's value; others are gone.
    expect(sent.filter((v) => v === value)).toEqual([]);
    expect(names(decision)).toContain('accept');
  });

  it('drops the headers a Connection header names', () => {
    const decision = upstreamHeaders(
      input([
        'Host',
        'acme.localhost',
        'Connection',
        'close, X-Secret-Hop,  x-other ,',
        'X-Secret-Hop',
        '1',
        'X-Other',
        '2',
        'Content-Length',
        '3',
        'X-Kept',
        '3',
      ]),
    );
    expect(names(decision)).toEqual([
      'host',
      'content-length',
      'x-kept',
      'x-forwarded-for',
      'x-forwarded-proto',
      'x-forwarded-host',
      'x-request-id',
    ]);
  });

  it('keeps the WebSocket handshake when asked to, and only then', () => {
    const raw = [
      'Host',
      'acme.localhost',
      'Connection',
      'Upgrade',
      'Upgrade',
      'websocket',
      'Sec-WebSocket-Key',
      'k',
    ];
    expect(header(upstreamHeaders(input(raw, { upgrade: true })), 'upgrade')).toEqual(['websocket']);
    expect(header(upstreamHeaders(input(raw, { upgrade: true })), 'connection')).toEqual(['upgrade']);
    expect(header(upstreamHeaders(input(raw, { upgrade: true })), 'sec-websocket-key')).toEqual(['k']);
    expect(header(upstreamHeaders(input(raw)), 'upgrade')).toEqual([]);
  });

  it('writes an IPv4-mapped client address as IPv4 and skips HTTP/2 pseudo-headers', () => {
    const decision = upstreamHeaders(
      input([':method', 'GET', ':authority', 'globex.localhost', 'accept', '*/*'], {
        clientAddress: '::ffff:10.1.2.3',
      }),
    );
    expect(header(decision, 'x-forwarded-for')).toEqual(['10.1.2.3']);
    expect(names(decision)).not.toContain(':authority');
    expect(header(decision, 'host')).toEqual(['acme.localhost:8443']);
  });

  it.each<[string, string[], { kind: string; bytes?: number }]>([
    ['no body', [], { kind: 'none' }],
    ['a length', ['Content-Length', '42'], { kind: 'length', bytes: 42 }],
    ['a zero length', ['Content-Length', '0'], { kind: 'none' }],
    ['a length with spaces around it', ['Content-Length', ' 7 '], { kind: 'length', bytes: 7 }],
    ['chunked', ['Transfer-Encoding', 'chunked'], { kind: 'chunked' }],
    ['chunked in capitals', ['Transfer-Encoding', 'Chunked'], { kind: 'chunked' }],
  ])('reads the framing of %s', (_name, raw, body) => {
    const decision = upstreamHeaders(input(['Host', 'acme.localhost', ...raw]));
    expect(decision).toMatchObject({ kind: 'ok', body });
    expect(names(decision)).not.toContain('transfer-encoding');
  });

  const many = Array.from({ length: 100 }, (_, i) => [`X-H${i}`, 'v']).flat();
  it.each<[string, string[], number, string]>([
    [
      'Content-Length then Transfer-Encoding',
      ['Content-Length', '4', 'Transfer-Encoding', 'chunked'],
      400,
      'length_and_chunked',
    ],
    [
      'Transfer-Encoding then Content-Length',
      ['Transfer-Encoding', 'chunked', 'Content-Length', '4'],
      400,
      'length_and_chunked',
    ],
    ['two equal Content-Lengths', ['Content-Length', '4', 'Content-Length', '4'], 400, 'bad_content_length'],
    [
      'two different Content-Lengths',
      ['Content-Length', '4', 'Content-Length', '5'],
      400,
      'bad_content_length',
    ],
    ['a Content-Length list', ['Content-Length', '4, 4'], 400, 'bad_content_length'],
    ['a negative Content-Length', ['Content-Length', '-1'], 400, 'bad_content_length'],
    ['a signed Content-Length', ['Content-Length', '+4'], 400, 'bad_content_length'],
    ['a hex Content-Length', ['Content-Length', '0x10'], 400, 'bad_content_length'],
    ['an empty Content-Length', ['Content-Length', ''], 400, 'bad_content_length'],
    ['a fractional Content-Length', ['Content-Length', '4.0'], 400, 'bad_content_length'],
    ['a huge Content-Length', ['Content-Length', '99999999999999999999'], 400, 'bad_content_length'],
    [
      'a Content-Length over the body limit',
      ['Content-Length', String(10 * 1024 * 1024 + 1)],
      413,
      'body_too_large',
    ],
    ['Transfer-Encoding gzip', ['Transfer-Encoding', 'gzip'], 400, 'bad_transfer_encoding'],
    ['Transfer-Encoding gzip, chunked', ['Transfer-Encoding', 'gzip, chunked'], 400, 'bad_transfer_encoding'],
    [
      'Transfer-Encoding chunked, chunked',
      ['Transfer-Encoding', 'chunked, chunked'],
      400,
      'bad_transfer_encoding',
    ],
    [
      'two Transfer-Encoding headers',
      ['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'],
      400,
      'bad_transfer_encoding',
    ],
    ['Transfer-Encoding with a trick', ['Transfer-Encoding', 'xchunked'], 400, 'bad_transfer_encoding'],
    ['Transfer-Encoding identity', ['Transfer-Encoding', 'identity'], 400, 'bad_transfer_encoding'],
    [
      'Connection naming Content-Length',
      ['Connection', 'content-length', 'Content-Length', '4'],
      400,
      'bad_connection',
    ],
    ['Connection naming Host among others', ['Connection', 'keep-alive, Host'], 400, 'bad_connection'],
    ['Connection naming Transfer-Encoding', ['Connection', 'Transfer-Encoding'], 400, 'bad_connection'],
    ['a header name with a space', ['X A', 'b'], 400, 'bad_header_name'],
    ['a header name with a colon', ['X:A', 'b'], 400, 'bad_header_name'],
    ['an empty header name', ['', 'b'], 400, 'bad_header_name'],
    ['a header name with non-ASCII', ['X-Ä', 'b'], 400, 'bad_header_name'],
    ['a folded value (obs-fold)', ['X-A', 'one\r\n two'], 400, 'bad_header_value'],
    ['a bare line feed in a value', ['X-A', 'one\ntwo'], 400, 'bad_header_value'],
    ['a NUL in a value', ['X-A', 'a\u0000b'], 400, 'bad_header_value'],
    ['101 headers', many, 431, 'too_many_headers'],
    ['16 KiB of headers', ['X-Big', 'x'.repeat(16 * 1024)], 431, 'headers_too_large'],
  ])('refuses %s', (_name, raw, status, code) => {
    expect(upstreamHeaders(input(['Host', 'acme.localhost', ...raw]))).toMatchObject({
      kind: 'reject',
      status,
      code,
    });
  });

  it('accepts exactly the header limits', () => {
    const limits = { ...gatewayLimitDefaults, maxHeaderCount: 3, maxHeaderBytes: 40 };
    // "Host: a\r\n" is 9 bytes, "X-A: " + 24 + "\r\n" is 31: 40 in all.
    expect(upstreamHeaders(input(['Host', 'a', 'X-A', 'x'.repeat(24)], { limits })).kind).toBe('ok');
    expect(upstreamHeaders(input(['Host', 'a', 'X-A', 'x'.repeat(25)], { limits })).kind).toBe('reject');
    expect(upstreamHeaders(input(['Host', 'a', 'B', '1', 'C', '2'], { limits })).kind).toBe('ok');
    expect(upstreamHeaders(input(['Host', 'a', 'B', '1', 'C', '2', 'D', '3'], { limits })).kind).toBe(
      'reject',
    );
  });

  it('flattens pairs into the raw array http.request takes', () => {
    expect(
      flattenHeaders([
        ['A', '1'],
        ['B', '2'],
      ]),
    ).toEqual(['A', '1', 'B', '2']);
  });
});
