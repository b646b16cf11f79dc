import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { LiveEvents, LiveSignal } from './live.ts';
import type { ConsoleApi, LooseApi } from './api.ts';

/** What the hooks need: the API and the tab's live events. Provided once, by the shell. */
export interface ConsoleContext {
  readonly api: ConsoleApi;
  /** For paths built at run time (a DataTable's list). */
  readonly loose: LooseApi;
  readonly live: LiveEvents;
}

export const ConsoleContextValue = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const value = useContext(ConsoleContextValue);
  if (!value) throw new Error('useConsole outside the console shell');
  return value;
}

export function useApi(): ConsoleApi {
  return useConsole().api;
}

export interface QueryOptions {
  /** Refetch when a change event of one of these topics arrives (and on resync). */
  readonly topics?: readonly string[];
  /** Only events for which this is true refetch (say, of one tenant). */
  readonly match?: (signal: LiveSignal) => boolean;
  readonly enabled?: boolean;
  /** Refetch on this interval too (for what no event announces, like process stats). */
  readonly pollMs?: number;
}

export interface QueryResult<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  /** True until the first answer (for this key) arrives. */
  readonly loading: boolean;
  /** True while any fetch runs, a refetch included. */
  readonly fetching: boolean;
  readonly refetch: () => void;
}

/** Coalesces a burst of events into one refetch. */
const refetchDelayMs = 150;

/**
 * Fetches while mounted and whenever `key` changes; keeps the last answer
 * while a refetch runs (no flashing); refetches on matching live events.
 * An answer for an older key is dropped.
 */
export function useQuery<T>(
  key: readonly unknown[],
  fetcher: (api: ConsoleApi, signal: AbortSignal) => Promise<T>,
  options: QueryOptions = {},
): QueryResult<T> {
  const { api, live } = useConsole();
  const keyText = JSON.stringify(key);
  const [state, setState] = useState<{ key: string; data?: T; error?: unknown; fetching: boolean }>({
    key: keyText,
    fetching: true,
  });
  const [generation, setGeneration] = useState(0);
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const matchRef = useRef(options.match);
  matchRef.current = options.match;
  const enabled = options.enabled ?? true;

  useEffect(() => {
    if (!enabled) return undefined;
    const controller = new AbortController();
    setState((previous) => ({ ...previous, key: keyText, fetching: true }));
    fetcherRef.current(api, controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ key: keyText, data, fetching: false });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((previous) => ({ ...previous, key: keyText, error, fetching: false }));
      },
    );
    return () => controller.abort();
  }, [api, keyText, generation, enabled]);

  const refetch = useCallback(() => setGeneration((n) => n + 1), []);

  const topicsText = (options.topics ?? []).join(',');
  useEffect(() => {
    if (!enabled || topicsText === '') return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const unsubscribe = live.subscribe(topicsText.split(','), (signal) => {
      if (signal.topic !== 'resync' && matchRef.current && !matchRef.current(signal)) return;
      clearTimeout(timer);
      timer = setTimeout(refetch, refetchDelayMs);
    });
    return () => {
      clearTimeout(timer);
      unsubscribe();
    };
  }, [live, topicsText, enabled, refetch]);

  useEffect(() => {
    if (!enabled || !options.pollMs) return undefined;
    const timer = setInterval(refetch, options.pollMs);
    return () => clearInterval(timer);
  }, [enabled, options.pollMs, refetch]);

  const current = state.key === keyText;
  return {
    // Another key's data stays visible while the new one loads (a filter change keeps the table).
    data: state.data,
    error: current ? state.error : undefined,
    loading: state.data === undefined && state.error === undefined,
    fetching: state.fetching,
    refetch,
  };
}

export interface MutationResult<I, O> {
  /** Runs it; resolves to the answer, or undefined when it failed (the error is in `error`). */
  readonly mutate: (input: I) => Promise<O | undefined>;
  readonly pending: boolean;
  readonly error: unknown;
  readonly data: O | undefined;
  readonly reset: () => void;
}

export function useMutation<I, O>(
  run: (api: ConsoleApi, input: I) => Promise<O>,
  options: { onSuccess?: (data: O, input: I) => void } = {},
): MutationResult<I, O> {
  const { api } = useConsole();
  const [state, setState] = useState<{ pending: boolean; error?: unknown; data?: O }>({ pending: false });
  const runRef = useRef(run);
  runRef.current = run;
  const onSuccessRef = useRef(options.onSuccess);
  onSuccessRef.current = options.onSuccess;
  const mutate = useCallback(
    async (input: I) => {
      setState({ pending: true });
      try {
        const data = await runRef.current(api, input);
        setState({ pending: false, data });
        onSuccessRef.current?.(data, input);
        return data;
      } catch (error) {
        setState({ pending: false, error });
        return undefined;
      }
    },
    [api],
  );
  const reset = useCallback(() => setState({ pending: false }), []);
  return { mutate, pending: state.pending, error: state.error, data: state.data, reset };
}
