export { AuditService, type AuditEntry, type AuditQuery, type VerifyReport } from './service.ts';
export {
  verifyChain,
  hashEvent,
  chainHash,
  eventBody,
  genesisHash,
  type ChainedEvent,
  type ChainProblem,
} from './chain.ts';
export { AuditCheckpointSchedule } from './checkpointing.ts';
export { checkpointFile } from './checkpoint-file.ts';
export { AuditKeys, type MasterKeys } from './integrity.ts';
export type { Checkpoint, CheckpointStore } from './checkpoints.ts';
