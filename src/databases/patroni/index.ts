export * from './config.ts';
export * from './settings.ts';
export {
  PatroniRest,
  type PatroniClusterStatus,
  type PatroniMemberStatus,
  type RestAddress,
} from './rest.ts';
export {
  killMember,
  memberPid,
  patroniBinary,
  postmasterPid,
  removeMember,
  serverBinDir,
  startMember,
  stopMember,
  writeMemberConfig,
} from './member.ts';
export {
  etcdBinary,
  etcdClientUrl,
  etcdDeletePrefix,
  etcdHealthy,
  etcdKeys,
  startEmbeddedEtcd,
  startEtcd,
  stopEtcd,
  type EtcdMember,
} from './etcd.ts';
export {
  haDriver,
  withReplication,
  type HaDriver,
  type HaClusterView,
  type StageReplication,
} from './driver.ts';
export { HaMemberKeeper } from './keeper.ts';
export { DatabaseRouter, renderRouterConfig, type RouterEntry } from './router.ts';
export { haSecretNames, planMembers, type HaClusterRow, type Placement } from './store.ts';
export { HaTier, haTierInstalled } from './tier.ts';
