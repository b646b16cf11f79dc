import { createPrivateKey, X509Certificate } from 'node:crypto';
import { InputError, showValue } from '../core/errors.ts';

/**
 * The edge's TLS suites: TLS 1.2 and 1.3 only, forward-secret AEAD suites
 * only (HAProxy's bind lines take them from here: src/dataplane/config.ts).
 * The rest of this file checks an operator's certificate before it is stored.
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
