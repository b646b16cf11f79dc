import type pg from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Principal } from '../core/policy.ts';
import { ChannelListener } from '../store/listener.ts';
import { coalesce, eventsChannel, parseChange, wideTopics } from './change.ts';
import { sse } from './sse.ts';
import type { ChangeEvent, EventTopic } from './topics.ts';
import { canSee, endsStream } from './visibility.ts';

/** Where the hub writes a subscriber's frames: an SSE response (stream.ts). */
export interface EventSink {
  /** Writes a frame; false when the sink gave up (too far behind, gone): the hub forgets it. */
  write(frame: string): boolean;
  /** Ends the stream: Steward is stopping. */
  end(): void;
}

export interface Subscriber {
  readonly principal: Pick<Principal, 'kind' | 'role' | 'tenant' | 'tokenId'>;
  /** Only these topics (the stream's `?topics=`); undefined for every topic the principal may see. */
  readonly topics: ReadonlySet<EventTopic> | undefined;
  readonly sink: EventSink;
}

export interface EventHubOptions {
  /** The LISTEN takes one session of this pool and keeps it. */
  readonly pool: pg.Pool;
  readonly logger: Logger;
  /** During a burst of changes, at most one flush per this many ms (default 50); a lone change goes at once. */
  readonly coalesceMs?: number;
  /** More rows than this of one topic and tenant in one burst go out as one `many` event (default 20). */
  readonly maxPerTopic?: number;
  /** More events than this of one topic in one burst, across tenants, reach operators as one `many` event (default 100). */
  readonly maxAcrossTenants?: number;
  /** How soon a lost LISTEN session is replaced (default 1000 ms). */
  readonly retryMs?: number;
  /** Steward's metrics registry: open streams and frames sent. */
  readonly registry?: Registry;
}

/** Changes held between flushes at most; at this many they are sent at once (a bulk update of every row). */
const maxPending = 10_000;

/**
 * Live updates for consoles: one LISTEN session per Steward process on the
 * control database's steward_events channel (migration 0041's triggers), so a
 * change written through any node reaches the consoles of every node. Bursts
 * are coalesced, then each event goes to the subscribers whose principal may
 * see it. When the session is lost and listening resumes, every subscriber
 * gets `resync`: what changed meanwhile was not notified. A stream ends when
 * its token is revoked. start() and stop() are safe twice.
 */
export class EventHub {
  readonly #o: EventHubOptions;
  readonly #listener: ChannelListener;
  readonly #subscribers = new Set<Subscriber>();
  #pending: ChangeEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** When the last flush ran (performance.now()). */
  #flushedAt = -Infinity;
  #starting: Promise<void> | undefined;
  #stopped = false;
  readonly #frames: Counter<'event'> | undefined;

  constructor(options: EventHubOptions) {
    this.#o = options;
    if (options.registry) {
      const subscribers = this.#subscribers;
      new Gauge({
        name: 'steward_console_streams',
        help: 'Open live-update streams (GET /api/v1/events) of this process',
        registers: [options.registry],
        collect() {
          this.set(subscribers.size);
        },
      });
      this.#frames = new Counter({
        name: 'steward_console_events_total',
        help: 'Live-update events written to streams, by event (change, resync)',
        labelNames: ['event'],
        registers: [options.registry],
      });
    }
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
    if (this.#pending.length >= maxPending) {
      this.flush();
      return;
    }
    // A change after a quiet spell goes out at once (with whatever arrived in the same read: one
    // transaction's); during a burst, at most one flush per coalescing window.
    const wait = Math.max(0, this.#flushedAt + (this.#o.coalesceMs ?? 50) - performance.now());
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, wait);
  }

  /** The pass: sends the gathered changes, coalesced, to every subscriber that may see them; returns how many events. */
  flush(): number {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const events = coalesce(this.#pending, this.#maxPerTopic);
    this.#pending = [];
    this.#flushedAt = performance.now();
    const wide = wideTopics(events, this.#o.maxAcrossTenants ?? 100);
    for (const event of events) {
      const frame = sse.change(event);
      for (const subscriber of this.#subscribers) {
        if (endsStream(subscriber.principal, event)) {
          this.#subscribers.delete(subscriber);
          subscriber.sink.end();
          continue;
        }
        // An operator hears of a wide topic once, below.
        if (wide.has(event.topic) && subscriber.principal.kind !== 'tenant-admin') continue;
        this.#send(subscriber, event, frame);
      }
    }
    for (const topic of wide) {
      const many: ChangeEvent = { topic, op: 'many', tenant: null, id: null };
      const frame = sse.change(many);
      for (const subscriber of this.#subscribers) this.#send(subscriber, many, frame);
    }
    return events.length;
  }

  #send(subscriber: Subscriber, event: ChangeEvent, frame: string): void {
    if (subscriber.topics && !subscriber.topics.has(event.topic)) return;
    if (!canSee(subscriber.principal, event)) return;
    this.#write(subscriber, frame);
    this.#frames?.inc({ event: 'change' });
  }

  /** Tells every subscriber to refetch (after changes may have gone unnotified). */
  resync(reason: string): void {
    this.flush();
    this.#o.logger.info({ subscribers: this.#subscribers.size }, `console streams resync: ${reason}`);
    const frame = sse.resync(reason);
    for (const subscriber of this.#subscribers) this.#write(subscriber, frame);
    this.#frames?.inc({ event: 'resync' }, this.#subscribers.size);
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
