/**
 * Where a stage's end-user traffic goes. The runtime decides which app
 * instances serve (a deploy's handover, scale to zero, a wake); the data
 * plane carries it out. The HAProxy data plane (src/dataplane) implements
 * this port; the Node stage proxies (stage-proxy.ts) did, until issue 12.
 */
export interface EndpointStage {
  readonly id: string;
  readonly tenant: string;
  readonly name: string;
  /** The loopback port the stage is published on (see StageBackend.publishedPort). */
  readonly publishedPort: number;
}

export interface StageEndpoints {
  /**
   * These instances (loopback ports of web processes) take the stage's new
   * requests from now on. Instances not named stop getting new requests and
   * finish the ones in flight (drain); `retire` removes them.
   */
  serve(stage: EndpointStage, ports: readonly number[]): Promise<void>;
  /** Waits until these instances have no request in flight, or `timeoutMs` passed, then removes them. */
  retire(stage: EndpointStage, ports: readonly number[], timeoutMs: number): Promise<void>;
  /** The stage has no instance up (scaled to zero, not started): its requests go to the activator, which wakes it. */
  sleep(stage: EndpointStage): Promise<void>;
  /** The ports that take new requests now. */
  serving(stageId: string): readonly number[];
  /** Milliseconds since the stage's last request (0 while one is in flight); undefined when not known yet. */
  idleMs(stageId: string, now: number): Promise<number | undefined>;
  /** The stage is gone: its endpoint goes with it. */
  remove(stageId: string): Promise<void>;
  /** Who to tell when a request arrives for a sleeping stage. */
  onWake(handler: (stageId: string) => void): void;
}
