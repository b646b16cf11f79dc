import { describe, expect, it } from 'vitest';
import { ApiError, createApis, describeError, itemsOf, pathOf, type Transport } from './api.ts';
import { initialLanguage, mergeCatalogues, translator } from './i18n.tsx';
import { parseChange } from './live.ts';
import { shellMessages } from './messages.ts';
import { allPages, areas, navEntries, visiblePages, type PageDef } from './registry.ts';

const page = (path: string, extra: Partial<PageDef> = {}): PageDef => ({
  path,
  titleKey: path,
  load: () => Promise.resolve({ default: () => null }),
  audience: 'operator',
  ...extra,
});

describe('the page registry', () => {
  const pages = [
    page('/tenants', { nav: { section: 'tenants', labelKey: 'a', order: 2 }, permission: 'tenants.read' }),
    page('/operators', {
      nav: { section: 'access', labelKey: 'b', order: 1 },
      permission: 'operators.write',
    }),
    page('/tenants/:tenant', { permission: 'tenants.read' }),
    page('/audit', { nav: { section: 'evidence', labelKey: 'c', order: 1 } }),
    page('/t/:tenant/users', {
      audience: 'tenant-admin',
      nav: { section: 'tenant', labelKey: 'd', order: 1 },
    }),
  ];
  const operator = { role: 'operator', tenant: null, permissions: ['tenants.read'] as const };
  const admin = { role: 'tenant-admin', tenant: 'acme', permissions: ['tenants.read'] as const };

  it('shows a principal only its audience and what its permissions allow', () => {
    expect(visiblePages(pages, operator).map((p) => p.path)).toEqual([
      '/tenants',
      '/tenants/:tenant',
      '/audit',
    ]);
    expect(visiblePages(pages, admin).map((p) => p.path)).toEqual(['/t/:tenant/users']);
  });

  it('builds the nav by section and order, with a tenant admin its own tenant filled in', () => {
    expect(navEntries(pages, operator).map((e) => e.href)).toEqual(['/tenants', '/audit']);
    expect(navEntries(pages, admin)).toEqual([{ section: 'tenant', labelKey: 'd', href: '/t/acme/users' }]);
  });

  it('finds every area and each brings English and German for the same keys', () => {
    expect(allPages.some((p) => p.path === '/tenants')).toBe(true);
    const catalogues = mergeCatalogues([shellMessages, ...areas.map((area) => area.messages)]);
    const missingDe = Object.keys(catalogues.en).filter((key) => !(key in catalogues.de));
    const missingEn = Object.keys(catalogues.de).filter((key) => !(key in catalogues.en));
    expect({ missingDe, missingEn }).toEqual({ missingDe: [], missingEn: [] });
    for (const p of allPages) {
      expect(catalogues.en[p.titleKey], `title of ${p.path}`).toBeDefined();
      if (p.nav) expect(catalogues.en[p.nav.labelKey], `nav label of ${p.path}`).toBeDefined();
    }
  });
});

describe('i18n', () => {
  it('takes the stored language, else the browser’s first one we have, else English', () => {
    expect(initialLanguage('de', ['en-US'])).toBe('de');
    expect(initialLanguage(null, ['fr-FR', 'de-AT', 'en'])).toBe('de');
    expect(initialLanguage('xx', ['fr'])).toBe('en');
  });

  it('fills slots and falls back to English, then to the key', () => {
    const t = translator({ en: { a: 'Hello {name}', b: 'only en' }, de: { a: 'Hallo {name}' } }, 'de');
    expect(t('a', { name: 'Ada' })).toBe('Hallo Ada');
    expect(t('b')).toBe('only en');
    expect(t('c')).toBe('c');
  });
});

describe('the API transport', () => {
  it('fills path parameters (encoded) and leaves empty query values out', () => {
    expect(
      pathOf('/api/v1/tenants/{tenant}/stages/{stage}', { params: { tenant: 'a b', stage: 'dev' } }),
    ).toBe('/api/v1/tenants/a%20b/stages/dev');
    expect(pathOf('/api/v1/tenants', { query: { q: '', limit: 50, phase: undefined } })).toBe(
      '/api/v1/tenants?limit=50',
    );
    expect(() => pathOf('/api/v1/tenants/{tenant}')).toThrow(/needs parameter tenant/);
  });

  it('reads a page’s items and next cursor, follows every cursor, and throws the API’s error', async () => {
    const seen: string[] = [];
    const transport: Transport = ({ path }) => {
      seen.push(path);
      if (path.includes('broken')) {
        return Promise.resolve({
          status: 400,
          header: () => null,
          body: { code: 'input', message: 'field "slug" …', field: 'slug' },
        });
      }
      const second = path.includes('cursor=c2');
      return Promise.resolve({
        status: 200,
        header: (name: string) => (name === 'x-next-cursor' && !second ? 'c2' : null),
        body: second ? [{ n: 2 }] : [{ n: 1 }],
      });
    };
    const { api, loose } = createApis(transport);
    expect(await loose.page('/api/v1/tenants', { query: { limit: 1 } })).toEqual({
      items: [{ n: 1 }],
      nextCursor: 'c2',
    });
    expect(await api.all('/api/v1/tenants')).toEqual([{ n: 1 }, { n: 2 }]);
    expect(seen.at(-1)).toBe('/api/v1/tenants?cursor=c2');
    const error = await loose.page('/api/v1/broken').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(describeError(error)).toEqual({ message: 'field "slug" …', field: 'slug', status: 400 });
  });

  it('takes a list from an array body or an object holding one array', () => {
    expect(itemsOf([1])).toEqual([1]);
    expect(itemsOf({ tenants: [1, 2] })).toEqual([1, 2]);
    expect(itemsOf({ a: [1], b: [2] })).toEqual([]);
  });
});

describe('live events', () => {
  it('parses a change and ignores what is not one', () => {
    expect(parseChange('{"topic":"tenants","op":"update","tenant":"acme","id":"1"}')).toEqual({
      topic: 'tenants',
      op: 'update',
      tenant: 'acme',
      id: '1',
    });
    expect(parseChange('not json')).toBeNull();
    expect(parseChange('{"op":"x"}')).toBeNull();
  });
});
