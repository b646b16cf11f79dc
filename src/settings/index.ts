import type { Config } from '../core/config.ts';
import type { Queryable } from '../store/db.ts';
import { configDefaults, effectiveLimits, type LimitsView } from './limits.ts';
import { countPerRegion, regionViews, type RegionsView } from './regions.ts';

export {
  limitGroups,
  limitSources,
  limitUnits,
  type LimitGroup,
  type LimitSource,
  type LimitUnit,
  type LimitView,
  type LimitsView,
} from './limits.ts';
export type { RegionRepositoryView, RegionView, RegionsView } from './regions.ts';

/**
 * Operators' settings as the console and the CLI read them: the effective
 * limits and the regions. Read only: Steward's config is a file read at start.
 */
export class SettingsService {
  readonly #config: Config;
  readonly #db: Queryable;
  #limits: LimitsView | undefined;

  constructor(options: { readonly config: Config; readonly db: Queryable }) {
    this.#config = options.config;
    this.#db = options.db;
  }

  /** The config does not change while Steward runs: worked out once. */
  limits(): LimitsView {
    this.#limits ??= effectiveLimits(this.#config, configDefaults());
    return this.#limits;
  }

  async regions(): Promise<RegionsView> {
    return regionViews(this.#config, await countPerRegion(this.#db));
  }
}
