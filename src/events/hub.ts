import type pg from 'pg';
import type { Logger } from 'pino';
import type { Principal } from '../core/policy.ts';
import { ChannelListener } from '../store/listener.ts';
import { coalesce, eventsChannel, parseChange } from './change.ts';
import { sse } from './sse.ts';
import type { ChangeEvent, EventTopic } from './topics.ts';
import { canSee } from './visibility.ts';

/** Where the hub writes a subscriber's frames: an SSE response (stream.ts). */
export interface EventSink {
  /** Writes a frame; false when the sink gave up (too far behind, gone): the hub forgets it. */
  write(frame: string): boolean;
  /** Ends the stream: Steward is stopping. */
  end(): void;
}

export interface Subscriber {
  readonly principal: Pick<Principal, 'kind' | 'role' | 'tenant'>;
  /** Only these topics (the stream's `?topics=`); undefined for every topic the principal may see. */
  readonly topics: ReadonlySet<EventTopic> | undefined;
  readonly sink: EventSink;
}

export interface EventHubOptions {
  /** The LISTEN takes one session of this pool and keeps it. */
  readonly pool: pg.Pool;
  readonly logger: Logger;
  /** How long a burst of changes gathers before it is sent (default 50 ms). */
  readonly coalesceMs?: number;
  /** More rows than this of one topic and tenant in one burst go out as one `many` event (default 20). */
  readonly maxPerTopic?: number;
  /** How soon a lost LISTEN session is replaced (default 1000 ms). */
  readonly retryMs?: number;
}

/** Changes held between flushes at most; past it they are coalesced at once (a bulk update of every row). */
const maxPending = 10_000;

/**
 * Live updates for consoles: one LISTEN session per Steward process on the
 * control database's steward_events channel (migration 0041's triggers), so a
 * change written through any node reaches the consoles of every node. Bursts
 * are coalesced, then each event goes to the subscribers whose principal may
 * see it. When the session is lost and listening resumes, every subscriber
 * gets `resync`: what changed meanwhile was not notified. start() and stop()
 * are safe twice.
 */
export class EventHub {
  readonly #o: EventHubOptions;
  readonly #listener: ChannelListener;
  readonly #subscribers = new Set<Subscriber>();
  #pending: ChangeEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #starting: Promise<void> | undefined;
  #stopped = false;

  constructor(options: EventHubOptions) {
    this.#o = options;
    this.#listener = new ChannelListener({
      pool: options.pool,
      channel: eventsChannel,
      about: 'console event',
      logger: options.logger,
      onNotification: (payload) => this.receive(payload),
      onResumed: () => this.resync('listening again after a lost database session'),
      ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
    });
  }

  start(): Promise<void> {
    this.#starting ??= this.#listener.start();
    return this.#starting;
  }

  /** How many streams are open. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** Adds a subscriber; the function returned removes it (safe twice). */
  subscribe(subscriber: Subscriber): () => void {
    if (this.#stopped) {
      subscriber.sink.end();
      return () => undefined;
    }
    this.#subscribers.add(subscriber);
    return () => void this.#subscribers.delete(subscriber);
  }

  /** One notification's payload: kept for the next flush. Never throws. */
  receive(payload: string): void {
    const event = parseChange(payload);
    if (!event) {
      this.#o.logger.debug({ channel: eventsChannel }, 'a notification that is no change event; ignored');
      return;
    }
    this.#pending.push(event);
    if (this.#pending.length > maxPending) this.#pending = coalesce(this.#pending, this.#maxPerTopic);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#o.coalesceMs ?? 50);
  }

  /** The pass: sends the gathered changes, coalesced, to every subscriber that may see them; returns how many events. */
  flush(): number {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const events = coalesce(this.#pending, this.#maxPerTopic);
    this.#pending = [];
    for (const event of events) {
      const frame = sse.change(event);
      for (const subscriber of this.#subscribers) {
        if (subscriber.topics && !subscriber.topics.has(event.topic)) continue;
        if (!canSee(subscriber.principal, event)) continue;
        this.#write(subscriber, frame);
      }
    }
    return events.length;
  }

  /** Tells every subscriber to refetch (after changes may have gone unnotified). */
  resync(reason: string): void {
    this.flush();
    this.#o.logger.info({ subscribers: this.#subscribers.size }, `console streams resync: ${reason}`);
    const frame = sse.resync(reason);
    for (const subscriber of this.#subscribers) this.#write(subscriber, frame);
  }

  /** Stops listening and ends every stream (before the API server closes: it waits for open responses). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#listener.stop();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
    for (const subscriber of this.#subscribers) subscriber.sink.end();
    this.#subscribers.clear();
  }

  get #maxPerTopic(): number {
    return this.#o.maxPerTopic ?? 20;
  }

  #write(subscriber: Subscriber, frame: string): void {
    if (!subscriber.sink.write(frame)) this.#subscribers.delete(subscriber);
  }
}
