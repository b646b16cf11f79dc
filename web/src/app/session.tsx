import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { paths } from '../../../src/api/client/schema.ts';
import type { RequestBody, ResponseBody } from '../../../src/api/client/typed.ts';
import type { Permission } from '../../../src/core/policy.ts';
import type { ConsoleApi, CsrfHolder } from './api.ts';
import type { LiveEvents } from './live.ts';

/** Who is signed in: the body of POST /api/v1/console/login and GET /api/v1/console/session (the generated schema). */
export type ConsoleSession = ResponseBody<paths, '/api/v1/console/session'>;

export type SignInInput = RequestBody<paths, '/api/v1/console/login', 'post'>;

type SessionState =
  | { readonly kind: 'loading' }
  | { readonly kind: 'signed-out'; readonly expired: boolean }
  | { readonly kind: 'signed-in'; readonly session: ConsoleSession };

interface SessionApi {
  readonly state: SessionState;
  readonly signIn: (input: SignInInput) => Promise<void>;
  readonly signOut: () => Promise<void>;
  /** The API said 401: the session ended elsewhere. */
  readonly expire: () => void;
}

const SessionContext = createContext<SessionApi | null>(null);

export function SessionProvider(props: {
  readonly api: ConsoleApi;
  readonly csrf: CsrfHolder;
  readonly live: LiveEvents;
  readonly expiry: { onExpire: () => void };
  readonly children: ReactNode;
}) {
  const { api, csrf, live, expiry } = props;
  const [state, setState] = useState<SessionState>({ kind: 'loading' });
  const accept = useCallback(
    (session: ConsoleSession) => {
      csrf.token = session.csrfToken;
      setState({ kind: 'signed-in', session });
    },
    [csrf],
  );
  const expire = useCallback(() => {
    csrf.token = null;
    live.close();
    setState((previous) =>
      previous.kind === 'signed-in' ? { kind: 'signed-out', expired: true } : previous,
    );
  }, [csrf, live]);
  expiry.onExpire = expire;

  useEffect(() => {
    let cancelled = false;
    api.get('/api/v1/console/session').then(
      (session) => {
        if (!cancelled) accept(session);
      },
      () => {
        if (!cancelled) setState({ kind: 'signed-out', expired: false });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [api, accept]);

  const value = useMemo<SessionApi>(
    () => ({
      state,
      signIn: async (input) => {
        const body = {
          username: input.username,
          password: input.password,
          ...(input.totp ? { totp: input.totp } : {}),
        };
        accept(await api.post('/api/v1/console/login', { body }));
      },
      signOut: async () => {
        try {
          await api.post('/api/v1/console/logout');
        } finally {
          csrf.token = null;
          live.close();
          setState({ kind: 'signed-out', expired: false });
        }
      },
      expire,
    }),
    [state, api, accept, csrf, live, expire],
  );
  return <SessionContext.Provider value={value}>{props.children}</SessionContext.Provider>;
}

export function useSessionState(): SessionApi {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSessionState outside SessionProvider');
  return value;
}

/** The signed-in session (pages render only inside the auth gate). */
export function useSession(): ConsoleSession {
  const { state } = useSessionState();
  if (state.kind !== 'signed-in') throw new Error('useSession outside the auth gate');
  return state.session;
}

/** Whether the signed-in principal has a permission: the console hides what it cannot do. */
export function useCan(): (permission: Permission) => boolean {
  const session = useSession();
  return useCallback((permission) => session.permissions.includes(permission), [session]);
}
