/** Self-healing actions bound to alert rules (issue 10 part 6). */
export { HealingService, healLimits, type HealingServiceOptions } from './service.ts';
export { stewardHealDrivers, type HealDrivers } from './drivers.ts';
export { healOutcomes, planHeal, healTarget, type HealOutcome, type HealLimits } from './plan.ts';
export type { HealAttemptView } from './store.ts';
