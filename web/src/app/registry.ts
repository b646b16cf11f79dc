import type { ComponentType } from 'react';
import type { Permission } from '../../../src/core/policy.ts';
import type { Messages } from './i18n.tsx';

export type { Permission };
export type Audience = 'operator' | 'tenant-admin';

/** The nav's sections, in the order the nav shows them. */
export const navSections = ['tenants', 'operations', 'evidence', 'access', 'settings', 'tenant'] as const;
export type NavSection = (typeof navSections)[number];

/**
 * One page of the console. An area (a folder web/src/pages/<area>/) exports
 * `pages: PageDef[]` and `messages` from its index.ts; the shell finds them,
 * so a new area never edits the shell. `path` is a wouter pattern
 * (`/tenants/:tenant`); a tenant admin's pages live under `/t/:tenant/…`.
 */
export interface PageDef {
  readonly path: string;
  readonly titleKey: string;
  readonly load: () => Promise<{ default: ComponentType }>;
  readonly nav?: { readonly section: NavSection; readonly labelKey: string; readonly order: number };
  /** Hidden (nav and route) from a principal without it; the API still enforces it. */
  readonly permission?: Permission;
  readonly audience: Audience;
}

export interface PageArea {
  readonly pages: readonly PageDef[];
  readonly messages: { readonly en: Messages; readonly de: Messages };
}

/** Every area's index.ts, eagerly: they are small (the pages themselves load lazily). */
const modules = import.meta.glob<PageArea>('../pages/*/index.ts', { eager: true });

export const areas: readonly PageArea[] = Object.keys(modules)
  .sort()
  .map((key) => modules[key]!)
  .filter((area) => Array.isArray(area.pages));

export const allPages: readonly PageDef[] = areas.flatMap((area) => area.pages);

export interface Viewer {
  readonly role: string;
  readonly tenant: string | null;
  readonly permissions: readonly Permission[];
}

export function audienceOf(viewer: Viewer): Audience {
  return viewer.role === 'tenant-admin' ? 'tenant-admin' : 'operator';
}

/** The pages this viewer may open: its audience, and the permission if the page names one. */
export function visiblePages(pages: readonly PageDef[], viewer: Viewer): PageDef[] {
  const audience = audienceOf(viewer);
  return pages.filter(
    (page) =>
      page.audience === audience && (!page.permission || viewer.permissions.includes(page.permission)),
  );
}

export interface NavEntry {
  readonly section: NavSection;
  readonly labelKey: string;
  readonly href: string;
}

/** The nav: visible pages with a nav entry, by section and order; a tenant admin's `:tenant` filled in. */
export function navEntries(pages: readonly PageDef[], viewer: Viewer): NavEntry[] {
  return visiblePages(pages, viewer)
    .filter((page) => page.nav && !/:(?!tenant\b)\w+/.test(page.path))
    .sort(
      (a, b) =>
        navSections.indexOf(a.nav!.section) - navSections.indexOf(b.nav!.section) ||
        a.nav!.order - b.nav!.order,
    )
    .map((page) => ({
      section: page.nav!.section,
      labelKey: page.nav!.labelKey,
      href: page.path.replace(':tenant', encodeURIComponent(viewer.tenant ?? '')),
    }));
}
