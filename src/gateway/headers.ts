/**
 * Every request header the edge strips from a client's request before it
 * reaches a stage, in one list that the data plane renders into HAProxy's
 * rules (src/dataplane/rules.ts) for plain and upgrade requests alike. The
 * app behind the edge gets the user as the edge's `X-Steward-Identity` (a
 * signed token it verifies) and trusts `X-Forwarded-*` for the client. Two kinds: those the edge sets itself,
 * and those that some app stack trusts as if a proxy had set them (a client
 * address, the original URL or method, an authenticated user, a client
 * certificate). A client's copy of any of them would let it pose as another
 * address, host, user or request. Method overrides are on the list too: a
 * stage that honours one acts on another method than the one the edge
 * checked and logged, and no client needs one here, since the edge forwards
 * every method but CONNECT.
 */
export const strippedRequestHeaders = {
  /** Exact names, lower case. */
  names: [
    // Set by the gateway.
    'forwarded',
    'x-real-ip',
    'x-request-id',
    // A client's address, as CDNs and load balancers pass it on.
    'true-client-ip',
    'x-client-ip',
    'x-cluster-client-ip',
    'cf-connecting-ip',
    'cf-connecting-ipv6',
    'fastly-client-ip',
    'x-proxyuser-ip',
    'x-originating-ip',
    'x-remote-ip',
    'x-remote-addr',
    'client-ip',
    'wl-proxy-client-ip',
    'x-envoy-external-address',
    'x-azure-clientip',
    'x-azure-socketip',
    'x-appengine-user-ip',
    'x-original-forwarded-for',
    // The original host, URL or method, as rewriting proxies pass them on.
    'x-host',
    'x-original-host',
    'x-http-host-override',
    'x-original-url',
    'x-rewrite-url',
    'x-original-uri',
    'x-original-method',
    'x-http-method-override',
    'x-http-method',
    'x-method-override',
    // An authenticated user or client certificate, as auth proxies pass them on.
    'remote-user',
    'x-remote-user',
    'x-webauth-user',
    'x-client-cert',
    'x-client-verify',
    'ssl-client-cert',
    'x-arr-clientcert',
    // httpoxy: CGI-style apps turn a `Proxy` header into HTTP_PROXY.
    'proxy',
  ],
  /** Name prefixes, lower case: every header that starts with one. */
  prefixes: ['x-forwarded-', 'x-steward-', 'x-auth-request-', 'x-ssl-'],
} as const;
