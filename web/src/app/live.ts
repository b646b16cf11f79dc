/**
 * Live updates: one EventSource per tab on GET /api/v1/events. An event names
 * a topic, an operation, the tenant and the row's id, never its data: a query
 * that names the topic refetches through the API, which enforces roles. On a
 * `resync` (the server's LISTEN reconnected) or after the stream itself
 * reconnected, events may have been missed, so every subscriber refetches.
 */
export interface ChangeEvent {
  readonly topic: string;
  readonly op: string;
  readonly tenant: string | null;
  readonly id: string | null;
}

/** `resync`: refetch whatever you show. */
export type LiveSignal = ChangeEvent | { readonly topic: 'resync' };

type Listener = (signal: LiveSignal) => void;
export type LiveState = 'idle' | 'connecting' | 'open' | 'reconnecting';

export class LiveEvents {
  private source: EventSource | null = null;
  private readonly listeners = new Set<{ readonly topics: ReadonlySet<string>; readonly fn: Listener }>();
  private readonly stateListeners = new Set<(state: LiveState) => void>();
  private state: LiveState = 'idle';
  private wasOpen = false;

  private readonly url: string;

  constructor(url = '/api/v1/events') {
    this.url = url;
  }

  /** Calls `fn` on a change of one of `topics` (and on resync); returns the unsubscribe. */
  subscribe(topics: readonly string[], fn: Listener): () => void {
    const entry = { topics: new Set(topics), fn };
    this.listeners.add(entry);
    this.connect();
    return () => {
      this.listeners.delete(entry);
    };
  }

  onState(fn: (state: LiveState) => void): () => void {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => {
      this.stateListeners.delete(fn);
    };
  }

  get current(): LiveState {
    return this.state;
  }

  /** At sign-out: the stream's cookie is gone. */
  close(): void {
    this.source?.close();
    this.source = null;
    this.wasOpen = false;
    this.setState('idle');
  }

  private connect(): void {
    if (this.source || typeof EventSource === 'undefined') return;
    const source = new EventSource(this.url, { withCredentials: true });
    this.source = source;
    this.setState('connecting');
    source.addEventListener('open', () => {
      // A reopened stream missed whatever happened while it was down.
      if (this.wasOpen) this.emit({ topic: 'resync' });
      this.wasOpen = true;
      this.setState('open');
    });
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (signed out?): stop; the next subscribe tries again.
        this.source = null;
        this.setState('idle');
      } else {
        this.setState('reconnecting');
      }
    });
    source.addEventListener('change', (message: MessageEvent<string>) => {
      const event = parseChange(message.data);
      if (event) this.emit(event);
    });
    source.addEventListener('resync', () => this.emit({ topic: 'resync' }));
  }

  private emit(signal: LiveSignal): void {
    for (const listener of this.listeners) {
      if (signal.topic === 'resync' || listener.topics.has(signal.topic)) listener.fn(signal);
    }
  }

  private setState(state: LiveState): void {
    this.state = state;
    for (const fn of this.stateListeners) fn(state);
  }
}

export function parseChange(data: string): ChangeEvent | null {
  try {
    const value = JSON.parse(data) as Partial<ChangeEvent>;
    if (typeof value.topic !== 'string') return null;
    return {
      topic: value.topic,
      op: typeof value.op === 'string' ? value.op : 'update',
      tenant: typeof value.tenant === 'string' ? value.tenant : null,
      id: typeof value.id === 'string' ? value.id : null,
    };
  } catch {
    return null;
  }
}
