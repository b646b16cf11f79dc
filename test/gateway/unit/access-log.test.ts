import { describe, expect, it } from 'vitest';
import { redactTarget } from '../../../src/gateway/access-log.ts';

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
