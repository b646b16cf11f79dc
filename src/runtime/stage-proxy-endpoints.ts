import type { Logger } from 'pino';
import type { EndpointStage, StageEndpoints } from './endpoints.ts';
import { StageProxy } from './stage-proxy.ts';

/**
 * The stage endpoints over one Node StageProxy per stage, each listening on
 * the stage's published port: what carried traffic before the HAProxy data
 * plane, and the runtime's default until that one is passed in.
 */
export class StageProxyEndpoints implements StageEndpoints {
  readonly #host: string;
  readonly #logger: Logger;
  readonly #proxies = new Map<string, StageProxy>();
  readonly #opening = new Map<string, Promise<StageProxy>>();
  #wake: ((stageId: string) => void) | undefined;

  constructor(options: { readonly host: string; readonly logger: Logger }) {
    this.#host = options.host;
    this.#logger = options.logger;
  }

  async serve(stage: EndpointStage, ports: readonly number[]): Promise<void> {
    (await this.#proxy(stage)).setBackends(ports);
  }

  async retire(stage: EndpointStage, ports: readonly number[], timeoutMs: number): Promise<void> {
    await this.#proxies.get(stage.id)?.drain(ports, timeoutMs);
  }

  async sleep(stage: EndpointStage): Promise<void> {
    (await this.#proxy(stage)).setBackends([]);
  }

  serving(stageId: string): readonly number[] {
    return this.#proxies.get(stageId)?.backendPorts ?? [];
  }

  idleMs(stageId: string, now: number): Promise<number | undefined> {
    return Promise.resolve(this.#proxies.get(stageId)?.idleMs(now));
  }

  async remove(stageId: string): Promise<void> {
    const proxy = this.#proxies.get(stageId);
    this.#proxies.delete(stageId);
    await proxy?.close();
  }

  onWake(handler: (stageId: string) => void): void {
    this.#wake = handler;
  }

  /** Closes every stage's proxy (Steward is shutting down: these live in its process). */
  async close(): Promise<void> {
    const proxies = [...this.#proxies.values()];
    this.#proxies.clear();
    await Promise.all(proxies.map((p) => p.close()));
  }

  #proxy(stage: EndpointStage): Promise<StageProxy> {
    const existing = this.#proxies.get(stage.id);
    if (existing) return Promise.resolve(existing);
    const opening = this.#opening.get(stage.id);
    if (opening) return opening;
    const proxy = new StageProxy({
      host: this.#host,
      port: stage.publishedPort,
      logger: this.#logger.child({ tenant: stage.tenant, stage: stage.name, component: 'proxy' }),
      onWake: () => this.#wake?.(stage.id),
    });
    const open = proxy
      .listen()
      .then(() => {
        this.#proxies.set(stage.id, proxy);
        return proxy;
      })
      .finally(() => this.#opening.delete(stage.id));
    this.#opening.set(stage.id, open);
    return open;
  }
}
