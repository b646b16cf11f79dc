import { useCallback, useMemo } from 'react';
import { useLocation, useSearch } from 'wouter';

/**
 * View state in the URL: filters, sort, cursor and tab live in the query
 * string, so a pasted link opens the same view. `set` replaces the entry
 * (typing in a filter does not flood history); `push` adds one (next page).
 */
export function useUrlState(): {
  readonly params: URLSearchParams;
  readonly get: (name: string) => string;
  readonly set: (
    patch: Readonly<Record<string, string | null | undefined>>,
    mode?: 'replace' | 'push',
  ) => void;
  readonly href: (patch: Readonly<Record<string, string | null | undefined>>) => string;
} {
  const search = useSearch();
  const [location, navigate] = useLocation();
  const params = useMemo(() => new URLSearchParams(search), [search]);
  const href = useCallback(
    (patch: Readonly<Record<string, string | null | undefined>>) => {
      const next = new URLSearchParams(search);
      for (const [key, value] of Object.entries(patch)) {
        if (value === null || value === undefined || value === '') next.delete(key);
        else next.set(key, value);
      }
      const text = next.toString();
      return text ? `${location}?${text}` : location;
    },
    [search, location],
  );
  const set = useCallback(
    (patch: Readonly<Record<string, string | null | undefined>>, mode: 'replace' | 'push' = 'replace') =>
      navigate(href(patch), { replace: mode === 'replace' }),
    [navigate, href],
  );
  return { params, get: (name) => params.get(name) ?? '', set, href };
}
