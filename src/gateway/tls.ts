import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { InputError, showValue } from '../core/errors.ts';
import { issueServerCertificate, type CertificateAuthority } from '../tls/ca.ts';

/**
 * The gateway's TLS: TLS 1.2 and 1.3 only, forward-secret AEAD suites only,
 * and a certificate per host chosen by SNI: an operator's certificate for the
 * domain (exact, then wildcard), else one Steward's CA issues on demand for a
 * host the gateway routes, else the default certificate for the base domain.
 */
export const tlsCiphers = [
  // TLS 1.3 (OpenSSL takes these from the same list in Node).
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  // TLS 1.2: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305, nothing else.
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const tlsSettings = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
  ciphers: tlsCiphers,
  honorCipherOrder: true,
  ecdhCurve: 'X25519:prime256v1:secp384r1',
} as const satisfies SecureContextOptions;

/** `example.com`, `app.example.com` or a wildcard `*.example.com`, lower case. */
const domainPattern = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

export function isCertificateDomain(domain: string): boolean {
  return domain.length <= 253 && domainPattern.test(domain);
}

export interface CheckedCertificate {
  readonly domain: string;
  readonly names: readonly string[];
  readonly notAfter: Date;
}

/** The DNS names a certificate is for (its SAN, else its CN), lower case. */
export function certificateNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san) {
    return san
      .split(/,\s*/)
      .filter((entry) => entry.startsWith('DNS:'))
      .map((entry) => entry.slice(4).toLowerCase());
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

/**
 * Checks an operator's certificate before it is stored: it parses, its key
 * is the one given, it names the domain, and it has not expired.
 */
export function checkCertificate(
  domain: string,
  certPem: string,
  keyPem: string,
  now = new Date(),
): CheckedCertificate {
  const name = domain.toLowerCase();
  if (!isCertificateDomain(name)) {
    throw new InputError(
      `domain ${showValue(domain)} is not a DNS name: write app.example.com, or *.example.com for a wildcard`,
      { field: 'domain' },
    );
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (error) {
    throw new InputError('the certificate is not a PEM X.509 certificate', { field: 'cert', cause: error });
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new InputError('the key is not a PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)', {
      field: 'key',
      cause: error,
    });
  }
  if (!cert.checkPrivateKey(key)) {
    throw new InputError('the key does not belong to the certificate', { field: 'key' });
  }
  const names = certificateNames(cert);
  const covered = name.startsWith('*.')
    ? names.includes(name)
    : names.includes(name) || cert.checkHost(name) !== undefined;
  if (!covered) {
    throw new InputError(
      `the certificate is for ${names.join(', ') || 'no DNS name'}, not for ${showValue(name)}`,
      { field: 'domain' },
    );
  }
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() <= now.getTime()) {
    throw new InputError(`the certificate expired at ${notAfter.toISOString()}`, { field: 'cert' });
  }
  return { domain: name, names, notAfter };
}

export interface OperatorCertificate {
  readonly domain: string;
  readonly certPem: string;
  /** Undefined: unchanged or unreadable; the context in use (if any) is kept. */
  readonly keyPem: string | undefined;
  /** Changes whenever the certificate is replaced: a context is rebuilt only then. */
  readonly version: string;
}

interface Issued {
  readonly context: SecureContext;
  readonly renewAt: number;
}

export interface CertificateStoreOptions {
  readonly ca: CertificateAuthority;
  readonly baseDomain: string;
  /** Whether the gateway routes this (normalised) host: only those get a certificate of their own. */
  readonly isRouted: (host: string) => boolean;
  readonly logger: Logger;
  /** Days an on-demand certificate is valid; renewed after two thirds of that. */
  readonly issuedDays?: number;
}

export class CertificateStore {
  readonly #o: CertificateStoreOptions;
  #operator = new Map<string, { readonly version: string; readonly context: SecureContext }>();
  readonly #issued = new Map<string, Issued>();
  readonly #issuing = new Map<string, Promise<SecureContext>>();
  #default: { readonly key: string; readonly cert: string } | undefined;

  constructor(options: CertificateStoreOptions) {
    this.#o = options;
  }

  /** The certificate for clients that send no SNI name, or one the gateway does not route. */
  async defaultCertificate(): Promise<{ readonly key: string; readonly cert: string }> {
    if (!this.#default) {
      const base = this.#o.baseDomain;
      const issued = await issueServerCertificate(this.#o.ca, [base, `*.${base}`], {
        days: this.#o.issuedDays ?? 90,
      });
      this.#default = { key: issued.keyPem, cert: issued.chainPem };
    }
    return this.#default;
  }

  /** Replaces the operator certificates; contexts of unchanged ones are kept. */
  setOperatorCertificates(certificates: readonly OperatorCertificate[]): void {
    const next = new Map<string, { readonly version: string; readonly context: SecureContext }>();
    for (const certificate of certificates) {
      const existing = this.#operator.get(certificate.domain);
      if (existing && (existing.version === certificate.version || certificate.keyPem === undefined)) {
        next.set(certificate.domain, existing);
        continue;
      }
      if (certificate.keyPem === undefined) continue;
      try {
        next.set(certificate.domain, {
          version: certificate.version,
          context: createSecureContext({
            ...tlsSettings,
            key: certificate.keyPem,
            cert: certificate.certPem,
          }),
        });
      } catch (error) {
        this.#o.logger.error(
          { domain: certificate.domain, err: (error as Error).message },
          'operator certificate cannot be used; keeping the previous one if any',
        );
        if (existing) next.set(certificate.domain, existing);
      }
    }
    this.#operator = next;
  }

  get operatorDomains(): string[] {
    return [...this.#operator.keys()];
  }

  /** The version of the certificate in use for a domain: its key need not be read again. */
  operatorVersion(domain: string): string | undefined {
    return this.#operator.get(domain)?.version;
  }

  /** For tls.createServer: picks the context for an SNI name; undefined means the default certificate. */
  readonly sniCallback = (
    servername: string,
    callback: (error: Error | null, context?: SecureContext) => void,
  ): void => {
    const host = servername.toLowerCase().replace(/\.$/, '');
    const context = this.#lookup(host);
    if (!(context instanceof Promise)) {
      callback(null, context);
      return;
    }
    context.then(
      (ready) => callback(null, ready),
      (error: unknown) => {
        this.#o.logger.warn({ host, err: (error as Error).message }, 'issuing a certificate failed');
        callback(null, undefined);
      },
    );
  };

  #lookup(host: string): SecureContext | Promise<SecureContext> | undefined {
    const exact = this.#operator.get(host);
    if (exact) return exact.context;
    const dot = host.indexOf('.');
    if (dot > 0) {
      const wildcard = this.#operator.get(`*${host.slice(dot)}`);
      if (wildcard) return wildcard.context;
    }
    if (!this.#o.isRouted(host)) return undefined;
    const issued = this.#issued.get(host);
    if (issued && issued.renewAt > Date.now()) return issued.context;
    let pending = this.#issuing.get(host);
    if (!pending) {
      pending = this.#issue(host).finally(() => this.#issuing.delete(host));
      this.#issuing.set(host, pending);
    }
    // A certificate due for renewal still serves while its successor is issued.
    return issued ? issued.context : pending;
  }

  async #issue(host: string): Promise<SecureContext> {
    const days = this.#o.issuedDays ?? 90;
    const issued = await issueServerCertificate(this.#o.ca, [host], { days });
    const context = createSecureContext({ ...tlsSettings, key: issued.keyPem, cert: issued.chainPem });
    this.#issued.set(host, { context, renewAt: Date.now() + (days * 86_400_000 * 2) / 3 });
    return context;
  }

  /** Forgets issued certificates of hosts that are no longer routed. */
  prune(): void {
    for (const host of this.#issued.keys()) if (!this.#o.isRouted(host)) this.#issued.delete(host);
  }
}
