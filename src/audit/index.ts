export { AuditService, type AuditEntry, type AuditQuery, type VerifyReport } from './service.ts';
export { verifyChain, hashEvent, genesisHash, type ChainedEvent, type ChainProblem } from './chain.ts';
