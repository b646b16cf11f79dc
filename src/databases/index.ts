export type { DatabaseDriver, ObservedStageDatabase, ClusterInventory, Endpoint } from './driver.ts';
export { sharedDriver } from './shared/driver.ts';
export * from './local-cluster.ts';
