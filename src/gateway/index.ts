/** The gateway: what the rest of Steward may use. */
export {
  GatewayService,
  normaliseAllowList,
  type CertificateView,
  type RouteView,
  type StageAccessSettings,
  type StageAccessView,
} from './service.ts';
export { buildRouteTable, normaliseHost, type Route, type RouteSource, type RouteTable } from './routes.ts';
export { checkCertificate, tlsCiphers } from './tls.ts';
export { formatAddress, parseAddress } from './allow-list.ts';
export { routesChannel } from './state.ts';
export { edgeOrigin, publicEdge, type PublicEdge } from './public-origin.ts';
