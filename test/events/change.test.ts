import { describe, expect, it } from 'vitest';
import { parseTopics } from '../../src/api/routes/events.ts';
import {
  canSee,
  coalesce,
  endsStream,
  parseChange,
  sse,
  wideTopics,
  type ChangeEvent,
} from '../../src/events/index.ts';

const change = (
  topic: ChangeEvent['topic'],
  id: string | null,
  op: ChangeEvent['op'] = 'update',
  tenant: string | null = 'acme',
): ChangeEvent => ({ topic, op, tenant, id });

describe('change events', () => {
  it('parses what migration 0041 notifies and nothing else', () => {
    expect(parseChange('{"topic" : "stages", "op" : "update", "tenant" : "acme", "id" : "prod"}')).toEqual(
      change('stages', 'prod'),
    );
    expect(
      parseChange('{"topic":"releases","op":"insert","tenant":null,"id":"1.2.0","row":{"x":1}}'),
    ).toEqual(change('releases', '1.2.0', 'insert', null));
    for (const bad of [
      'not json',
      'null',
      '{"topic":"payroll","op":"update","tenant":null,"id":"1"}',
      '{"topic":"stages","op":"many","tenant":null,"id":null}',
      '{"topic":"stages","op":"update","tenant":7,"id":"1"}',
      '{"topic":"stages","op":"update","tenant":"acme","id":1}',
    ]) {
      expect(parseChange(bad), bad).toBeUndefined();
    }
  });

  it('coalesces a burst: one event per row with its last op, many rows of a topic become one', () => {
    expect(
      coalesce(
        [
          change('stages', 'dev', 'insert'),
          change('tenants', 'acme'),
          change('stages', 'dev'),
          change('stages', 'dev'),
          change('alerts', '7', 'insert', null),
          change('alerts', '7', 'delete', null),
        ],
        20,
      ),
    ).toEqual([
      change('tenants', 'acme'),
      change('stages', 'dev', 'update'),
      change('alerts', '7', 'delete', null),
    ]);
    const burst = Array.from({ length: 30 }, (_, i) => change('checks', String(i)));
    expect(coalesce([...burst, change('checks', '1', 'update', 'other')], 20)).toEqual([
      { topic: 'checks', op: 'many', tenant: 'acme', id: null },
      change('checks', '1', 'update', 'other'),
    ]);
  });

  it('finds the topics of a bulk change across tenants', () => {
    const stages = Array.from({ length: 101 }, (_, i) => change('stages', 'prod', 'update', `t${i}`));
    expect([...wideTopics([...stages, change('tenants', 't1')], 100)]).toEqual(['stages']);
    expect([...wideTopics(stages.slice(1), 100)]).toEqual([]);
  });

  it("shows a tenant admin only its own tenant's events of its pages' topics, an operator what its role reads", () => {
    const admin = {
      kind: 'tenant-admin',
      role: 'tenant-admin',
      tenant: { id: '1', slug: 'acme', mfa: true },
    } as const;
    expect(canSee(admin, change('users', 'u1'))).toBe(true);
    expect(canSee(admin, change('users', 'u1', 'update', 'globex'))).toBe(false);
    expect(canSee(admin, change('releases', '1.0', 'insert', null))).toBe(false);
    // Its tenant's, but an operator's page: alerts and audit stay with operators.
    expect(canSee(admin, change('alerts', '3'))).toBe(false);
    expect(canSee(admin, change('audit', '9'))).toBe(false);
    const auditor = { kind: 'operator', role: 'auditor' } as const;
    expect(canSee(auditor, change('audit', '9'))).toBe(true);
    expect(canSee(auditor, change('releases', '1.0', 'insert', null))).toBe(true);
    const operator = { kind: 'operator', role: 'operator' } as const;
    expect(canSee(operator, change('audit', '9'))).toBe(true);
    expect(canSee(operator, change('users', 'u1', 'update', 'globex'))).toBe(true);
  });

  it("ends a stream when its token is revoked, not on another token's change", () => {
    const operator = { tokenId: '12' };
    expect(endsStream(operator, change('tokens', '12', 'update', null))).toBe(true);
    expect(endsStream(operator, change('tokens', '12', 'delete', null))).toBe(true);
    expect(endsStream(operator, change('tokens', '13', 'update', null))).toBe(false);
    expect(endsStream(operator, change('tokens', null, 'many', null))).toBe(false);
    expect(endsStream(operator, change('operators', '12', 'update', null))).toBe(false);
    expect(endsStream({ tokenId: null }, change('tokens', '12', 'update', null))).toBe(false);
  });

  it('frames server-sent events, and refuses an unknown topic naming the field and the accepted ones', () => {
    expect(sse.change(change('incidents', '4'))).toBe(
      'event: change\ndata: {"topic":"incidents","op":"update","tenant":"acme","id":"4"}\n\n',
    );
    expect(sse.open(3000)).toBe('retry: 3000\n\n');
    expect(sse.keepalive).toBe(': keepalive\n\n');
    expect(parseTopics(undefined)).toBeUndefined();
    expect([...(parseTopics('tenants, stages') ?? [])]).toEqual(['tenants', 'stages']);
    expect(() => parseTopics('tenants,payroll')).toThrow(
      /field "topics": "payroll" is not a topic; accepted are: tenants, stages, /,
    );
  });
});
