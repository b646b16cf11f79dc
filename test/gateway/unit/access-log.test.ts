import { describe, expect, it } from 'vitest';
import { accessLogEntry, redactTarget, type FinishedRequest } from '../../../src/gateway/access-log.ts';

describe('redacting the query', () => {
  it.each([
    ['/', '/'],
    ['/invoices', '/invoices'],
    ['/invoices?page=2&sort=date', '/invoices?page=2&sort=date'],
    ['/cb?code=abc&state=xyz', '/cb?code=[redacted]&state=[redacted]'],
    ['/a?access_token=t1&x=1', '/a?access_token=[redacted]&x=1'],
    ['/a?Password=p&user=bob', '/a?Password=[redacted]&user=bob'],
    ['/a?client_secret=s', '/a?client_secret=[redacted]'],
    ['/a?api_key=k&apiKey=k2', '/a?api_key=[redacted]&apiKey=[redacted]'],
    [
      '/a?X-Amz-Signature=abc&X-Amz-Credential=c&X-Amz-Date=d',
      '/a?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]&X-Amz-Date=d',
    ],
    ['/a?sessionid=1', '/a?sessionid=[redacted]'],
    ['/a?auth=1&authorization=2', '/a?auth=[redacted]&authorization=[redacted]'],
    ['/a?%74oken=1', '/a?%74oken=[redacted]'],
    ['/a?pass%77ord=1', '/a?pass%77ord=[redacted]'],
    ['/a?jwt=eyJ&otp=123456', '/a?jwt=[redacted]&otp=[redacted]'],
    ['/a?token', '/a?[redacted]'],
    ['/a?debug', '/a?debug'],
    ['/a?eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig', '/a?[redacted]'],
    ['/a?token=1&token=2', '/a?token=[redacted]&token=[redacted]'],
    ['/a?=x&&b=1', '/a?=x&&b=1'],
    ['/a?bad%zz=1', '/a?bad%zz=1'],
    ['/a?x=1#token=2', '/a?x=1'],
  ])('%j → %j', (target, logged) => {
    expect(redactTarget(target)).toBe(logged);
  });

  it('bounds a long target', () => {
    const logged = redactTarget(`/${'a'.repeat(5000)}`);
    expect(logged.length).toBe(2048);
    expect(logged.endsWith('...')).toBe(true);
  });
});

describe('access log entries', () => {
  const request: FinishedRequest = {
    startedAt: new Date('2026-11-23T12:00:00.000Z'),
    requestId: 'req-1',
    clientAddress: '203.0.113.9',
    method: 'GET',
    host: 'acme.localhost',
    target: '/login?next=/home&password=hunter2',
    status: 302,
    bytesSent: 120,
    durationMs: 12.34567,
    tenant: 'acme',
    stage: 'prod',
    userAgent: 'curl/8.5.0',
  };

  it('has the fields the operator needs, and no others', () => {
    expect(accessLogEntry(request)).toEqual({
      time: '2026-11-23T12:00:00.000Z',
      requestId: 'req-1',
      clientAddress: '203.0.113.9',
      method: 'GET',
      host: 'acme.localhost',
      path: '/login?next=/home&password=[redacted]',
      status: 302,
      bytesSent: 120,
      bytesReceived: 0,
      durationMs: 12.346,
      tenant: 'acme',
      stage: 'prod',
      userAgent: 'curl/8.5.0',
    });
  });

  it('never carries cookies or authorization, even when a caller passes the whole request', () => {
    const sloppy = {
      ...request,
      headers: { cookie: 'sid=SECRET1', authorization: 'Bearer SECRET2' },
      cookie: 'sid=SECRET1',
      authorization: 'Bearer SECRET2',
    } as FinishedRequest;
    const line = JSON.stringify(accessLogEntry(sloppy));
    expect(line).not.toContain('SECRET');
    expect(line).not.toMatch(/cookie|authorization/i);
  });

  it('logs a refused request without a route, with its reason code', () => {
    const entry = accessLogEntry({
      ...request,
      host: undefined,
      tenant: undefined,
      stage: undefined,
      userAgent: 'x'.repeat(1000),
      status: 400,
      rejection: 'length_and_chunked',
    });
    expect(entry).toMatchObject({
      host: null,
      tenant: null,
      stage: null,
      status: 400,
      rejection: 'length_and_chunked',
    });
    expect(entry.userAgent?.length).toBe(512);
  });
});
