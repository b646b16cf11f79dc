import type { paths } from '../../../../src/api/client/schema.ts';
import type { ResponseBody } from '../../../../src/api/client/typed.ts';

/** The settings API's views, as the generated client types them. */
export type LimitsView = ResponseBody<paths, '/api/v1/settings/limits'>;
export type LimitRow = LimitsView['limits'][number];
export type RegionsView = ResponseBody<paths, '/api/v1/regions'>;
export type RegionRow = RegionsView['regions'][number];
