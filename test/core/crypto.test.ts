import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.ts';
import { backoff, isTransient } from '../../src/core/retry.ts';
import { can, roleCovers } from '../../src/core/policy.ts';
import { newMasterKey, open, rewrap, seal } from '../../src/secrets/envelope.ts';

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: undefined, x: null }], c: 'é' } })).toBe(
      '{"a":{"c":"é","d":[2,{"x":null,"z":1}]},"b":1}',
    );
  });
});

describe('envelope encryption', () => {
  it('round-trips and never stores the plaintext', () => {
    const master = newMasterKey('k1');
    const sealed = seal(master, 'stage/acme/prod/database-password', 'hunter2-secret-value');
    expect(sealed.ciphertext.includes(Buffer.from('hunter2'))).toBe(false);
    expect(open(master, 'stage/acme/prod/database-password', sealed)).toBe('hunter2-secret-value');
  });

  it('refuses a ciphertext moved to another secret name', () => {
    const master = newMasterKey('k1');
    const sealed = seal(master, 'a', 'value');
    expect(() => open(master, 'b', sealed)).toThrow();
  });

  it('refuses the wrong master key, and re-wrapping moves to a new key', () => {
    const k1 = newMasterKey('k1');
    const k2 = newMasterKey('k2');
    const sealed = seal(k1, 'a', 'value');
    expect(() => open(k2, 'a', { ...sealed, keyId: 'k2' })).toThrow();
    const moved = {
      keyId: 'k2',
      wrappedKey: rewrap(k1, k2, sealed.wrappedKey),
      ciphertext: sealed.ciphertext,
    };
    expect(open(k2, 'a', moved)).toBe('value');
  });
});

describe('retry classification', () => {
  it.each(['40001', '40P01', '57P03', 'ECONNRESET'])('%s is transient', (code) =>
    expect(isTransient({ code })).toBe(true),
  );
  it.each(['23505', '42P01', undefined])('%s is not', (code) => expect(isTransient({ code })).toBe(false));
  it('backs off exponentially up to a cap, with jitter', () => {
    expect(backoff(0, 100, 1000, () => 0)).toBe(50);
    expect(backoff(3, 100, 1000, () => 1)).toBe(800);
    expect(backoff(30, 100, 1000, () => 1)).toBe(1000);
  });
});

describe('policy', () => {
  it('auditors read but do not write', () => {
    expect(can('auditor', 'tenants.read')).toBe(true);
    expect(can('auditor', 'tenants.write')).toBe(false);
    expect(can('auditor', 'credentials.read')).toBe(false);
  });
  it('operators run tenants but do not manage operators or keys', () => {
    expect(can('operator', 'tenants.write')).toBe(true);
    expect(can('operator', 'operators.write')).toBe(false);
    expect(can('operator', 'secrets.rotate')).toBe(false);
  });
  it('a role covers itself and lesser roles only', () => {
    expect(roleCovers('owner', 'auditor')).toBe(true);
    expect(roleCovers('operator', 'owner')).toBe(false);
  });
});
