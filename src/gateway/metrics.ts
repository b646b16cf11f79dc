import { Counter, Histogram, Registry } from 'prom-client';

/**
 * The gateway's Prometheus metrics, in a registry of their own (no global
 * registry: two gateways in one test process must not share counters).
 *
 * Labels are the tenant and the stage only, never the host or the path: a
 * client chooses those, and every distinct value would become a new series.
 * A request that matched no stage is counted under tenant and stage `none`.
 */
export const statusClasses = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof statusClasses)[number];

/** Seconds, from 1 ms to 10 s. */
export const latencyBuckets: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export const unrouted = 'none';

/** `404` → `4xx`; anything outside 100-599 counts as `5xx` (the gateway failed to say). */
export function statusClass(status: number): StatusClass {
  const hundreds = Math.floor(status / 100);
  return statusClasses[hundreds - 1] ?? '5xx';
}

export interface RequestObservation {
  readonly tenant?: string | undefined;
  readonly stage?: string | undefined;
  readonly status: number;
  readonly durationSeconds: number;
}

export interface GatewayMetrics {
  readonly registry: Registry;
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string;
  observeRequest(observation: RequestObservation): void;
  /** The exposition text for `/metrics`. */
  render(): Promise<string>;
}

export interface GatewayMetricsOptions {
  /** Prefix of every metric name. */
  readonly prefix?: string;
  /** Put the metrics into this registry instead of a new one. */
  readonly registry?: Registry;
}

export function createGatewayMetrics(options: GatewayMetricsOptions = {}): GatewayMetrics {
  const prefix = options.prefix ?? 'steward_gateway_';
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const requests = new Counter({
    name: `${prefix}requests_total`,
    help: 'Requests answered, by tenant, stage and status class.',
    labelNames: ['tenant', 'stage', 'status_class'] as const,
    registers,
  });
  const duration = new Histogram({
    name: `${prefix}request_duration_seconds`,
    help: 'Time from the request head to the end of the response, by tenant and stage.',
    labelNames: ['tenant', 'stage'] as const,
    buckets: [...latencyBuckets],
    registers,
  });
  return {
    registry,
    contentType: registry.contentType,
    observeRequest({ tenant, stage, status, durationSeconds }) {
      const labels = { tenant: tenant ?? unrouted, stage: stage ?? unrouted };
      requests.inc({ ...labels, status_class: statusClass(status) });
      duration.observe(labels, Math.max(0, durationSeconds));
    },
    render: () => registry.metrics(),
  };
}
