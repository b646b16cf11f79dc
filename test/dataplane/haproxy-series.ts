/**
 * The series of HAProxy's Prometheus exporter that deploy/grafana/steward.json
 * uses: the dashboard test accepts them, and the observability test checks
 * that a real HAProxy serves each one at /metrics/haproxy.
 */
export const haproxyDashboardSeries: readonly string[] = [
  'haproxy_backend_http_responses_total',
  'haproxy_frontend_current_sessions',
  'haproxy_frontend_connections_total',
  'haproxy_backend_current_queue',
  'haproxy_backend_active_servers',
];
