import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { PassTimer } from '../core/pass-timer.ts';
import { within } from './within.ts';
import { logPassFailure } from '../core/logger.ts';
import {
  afterAnswer,
  expire,
  leaseTiming,
  type LeaseAnswer,
  type LeaseChange,
  type LeaseHolder,
  type LeaseState,
  type LeaseStore,
  type LeaseTerm,
  type LeaseTiming,
} from './leases.ts';

const stopReason = 'Steward stops';

/** One loop of singleton work: its pass runs on the lease holder only. */
export interface SingletonLoop {
  /** For logs: "checks", "alerts". */
  readonly name: string;
  readonly everyMs: number;
  pass(): Promise<unknown>;
  /**
   * What a single Steward did once at start (records for the time nobody
   * worked, clean-ups): done at the beginning of each term, before the
   * first pass, since the previous holder may have died mid-work.
   */
  began?(term: LeaseTerm): Promise<void>;
  /** The first pass at once when a term begins, not one interval later. */
  readonly passAtOnce?: boolean;
}

export interface ElectorOptions {
  readonly leases: LeaseStore;
  /** The lease's name (leases.name). */
  readonly lease: string;
  readonly holder: LeaseHolder;
  readonly ttlMs: number;
  readonly loops: readonly SingletonLoop[];
  readonly logger: Logger;
  /** Hears when a term begins (true) and ends (false): metrics. */
  readonly held?: (lease: string, held: boolean) => void;
}

/**
 * Runs a set of singleton loops on whichever node holds one lease. Every
 * node runs an Elector; each renews (or tries to take) the lease every third
 * of its ttl. While this node holds it, the loops' passes run on their
 * timers; when a renewal fails past the term, another node holds it, or the
 * renewal hangs, the loops stop (waiting for the pass in flight) within one
 * renew interval, before any other node can take the lease. stop() gives the
 * lease up, so another node takes it on its next round rather than after
 * the ttl. round() is the one public pass; the timer only calls it.
 */
export class Elector {
  readonly #o: ElectorOptions;
  readonly #timing: LeaseTiming;
  #state: LeaseState = { kind: 'follower' };
  /** The loops' timers of the term in progress. */
  #timers: PassTimer<unknown>[] = [];
  #timer: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  /** Term changes run one after another: a loss never overtakes the beginning it ends. */
  #transition: Promise<void> = Promise.resolve();
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: ElectorOptions) {
    this.#o = options;
    this.#timing = leaseTiming(options.ttlMs);
  }

  /** The term this node holds now, if any. */
  get term(): LeaseTerm | undefined {
    return this.#state.kind === 'holder' ? this.#state.term : undefined;
  }

  /** The first round (with one node: the lease is taken and the loops run, as they did at start). Safe twice. */
  start(): Promise<void> {
    this.#starting ??= (async () => {
      await this.round();
      await this.#transition;
      if (this.#stopping) return;
      this.#timer = setInterval(() => void this.round(), this.#timing.renewMs);
      this.#timer.unref();
    })();
    return this.#starting;
  }

  /** Stops the loops (waiting for their passes) and gives the lease up. Safe twice. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      if (this.#timer) clearInterval(this.#timer);
      // A renewal that hangs (the control database cut off) holds up a stop no longer than a ttl.
      await within(this.#round ?? Promise.resolve(), this.#timing.ttlMs, () => undefined);
      const held = this.#state.kind === 'holder';
      this.#lose({ kind: 'lost', reason: stopReason }, held);
      await this.#transition;
      if (held) {
        const released = this.#o.leases
          .release(this.#o.lease, this.#o.holder)
          .catch((error: unknown) => logPassFailure(this.#o.logger, error, 'lease not released'));
        // Not released in time: it runs out by itself.
        await within(released, this.#timing.ttlMs, () => undefined);
      }
    })();
    return this.#stopping;
  }

  /** One round: take or renew the lease, then begin, keep or end the term as the answer says. */
  round(): Promise<void> {
    this.#round ??= this.#doRound().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  async #doRound(): Promise<void> {
    if (this.#stopping && this.#state.kind === 'follower') return;
    const sentAt = performance.now();
    let answer: LeaseAnswer;
    try {
      // A statement that never answers (a partition) must not hold up the rounds after it.
      answer = await within(
        this.#o.leases.acquire(this.#o.lease, this.#o.holder, this.#timing.ttlMs),
        this.#timing.ttlMs,
        (): LeaseAnswer => ({ kind: 'failed', error: `no answer within ${this.#timing.ttlMs} ms` }),
      );
    } catch (error) {
      answer = { kind: 'failed', error: (error as Error).message };
    }
    if (this.#stopping) return;
    const next = afterAnswer(this.#state, answer, sentAt, performance.now(), this.#timing, this.#o.lease);
    this.#state = next.state;
    this.#apply(next.change);
  }

  #apply(change: LeaseChange): void {
    switch (change.kind) {
      case 'began':
        this.#armDeadline();
        this.#o.logger.info(
          { lease: this.#o.lease, epoch: change.term.epoch },
          'this node holds the lease: its singleton work runs here',
        );
        this.#transition = this.#transition.then(() => this.#begin(change.term));
        this.#o.held?.(this.#o.lease, true);
        return;
      case 'kept':
        this.#armDeadline();
        return;
      case 'lost':
        this.#lose(change);
        return;
      case 'none':
        return;
    }
  }

  /** Past its term without a renewal the node stops, even when the renewal never answers. */
  #armDeadline(): void {
    if (this.#deadline) clearTimeout(this.#deadline);
    if (this.#state.kind !== 'holder') return;
    this.#deadline = setTimeout(
      () => {
        const next = expire(this.#state, performance.now());
        if (next.change.kind === 'lost') this.#lose(next.change);
        // A timer may fire a moment early: look again at the deadline.
        else this.#armDeadline();
      },
      Math.max(0, this.#state.validUntilMs - performance.now()),
    );
    this.#deadline.unref();
  }

  /** Ends the term: `change` comes from a holder's state (afterAnswer, expire), or from stop(). */
  #lose(change: LeaseChange & { kind: 'lost' }, wasHolder = true): void {
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#deadline = undefined;
    this.#state = { kind: 'follower' };
    // After the beginning in flight, if any: it stops early (the term is gone) or its timers stop here.
    this.#transition = this.#transition.then(async () => {
      await Promise.all(this.#timers.splice(0).map((t) => t.stop()));
    });
    if (!wasHolder) return;
    this.#o.held?.(this.#o.lease, false);
    // A stop is no news; any other end of a term is.
    this.#o.logger[change.reason === stopReason ? 'info' : 'warn'](
      { lease: this.#o.lease, reason: change.reason },
      'this node gave up the lease',
    );
  }

  async #begin(term: LeaseTerm): Promise<void> {
    for (const loop of this.#o.loops) {
      if (this.term?.epoch !== term.epoch) return;
      await loop
        .began?.(term)
        .catch((error: unknown) =>
          logPassFailure(this.#o.logger, error, `${loop.name}: work at the start of a term failed`),
        );
    }
    if (this.term?.epoch !== term.epoch) return;
    for (const loop of this.#o.loops) {
      const timer = new PassTimer({
        pass: () => loop.pass(),
        everyMs: loop.everyMs,
        logger: this.#o.logger,
        what: `${loop.name} pass`,
      });
      timer.start();
      this.#timers.push(timer);
      // Awaited, like the resync a single Steward ran before its start() returned.
      if (loop.passAtOnce)
        await timer
          .run()
          .catch((error: unknown) => logPassFailure(this.#o.logger, error, `${loop.name} pass failed`));
    }
  }
}
