import { X509Certificate } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { issueServerCertificate, type CertificateAuthority } from '../tls/ca.ts';
import { checkPem } from './names.ts';
import {
  issuedDays,
  issuedVersion,
  planCertificates,
  renewBeforeMs,
  type DesiredCertificate,
  type ObservedCertificate,
} from './plan.ts';
import type { RuntimeApi } from './runtime-api.ts';

/**
 * The data plane's certificates on disk and in HAProxy: each one a file
 * (mode 600, in a 700 directory) listed in the crt-list with its SNI names.
 * Changes go through the runtime API (new/set/commit ssl cert, add/del ssl
 * crt-list), so a replaced certificate is served from the next handshake on
 * without a reload; the files are written first, so a reload or a new
 * HAProxy loads the same. A manifest remembers what was committed (operator
 * certificate versions, issued names and expiry) across restarts of Steward.
 */

interface ManifestEntry {
  readonly version: string;
  readonly notAfter: number;
}

export interface CertificateFilesOptions {
  /** The certificates directory (mode 700). */
  readonly dir: string;
  readonly crtList: string;
  readonly defaultCertificate: string;
  readonly ca: CertificateAuthority;
  readonly baseDomain: string;
  /** An operator's certificate chain and key, read only when it is new or replaced. */
  readonly operatorPem: (domain: string) => Promise<string>;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class CertificateFiles {
  readonly #o: CertificateFilesOptions;
  #observed = new Map<string, ObservedCertificate>();
  #manifest: Record<string, ManifestEntry> = {};

  constructor(options: CertificateFilesOptions) {
    this.#o = options;
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  #path(file: string): string {
    return join(this.#o.dir, file);
  }

  get #manifestPath(): string {
    return join(this.#o.dir, 'manifest.json');
  }

  /** The certificate for an SNI name no entry matches: `<base>` and `*.<base>`, renewed ahead like the rest. */
  async ensureDefault(api: RuntimeApi | undefined): Promise<void> {
    const names = [this.#o.baseDomain, `*.${this.#o.baseDomain}`];
    const current = await readFile(this.#o.defaultCertificate, 'utf8').catch(() => undefined);
    if (current !== undefined) {
      try {
        const cert = new X509Certificate(current);
        const fresh = new Date(cert.validTo).getTime() - this.#now() > renewBeforeMs;
        if (fresh && cert.subjectAltName === names.map((name) => `DNS:${name}`).join(', ')) return;
      } catch {
        // Unreadable: issued again below.
      }
    }
    const issued = await issueServerCertificate(this.#o.ca, names, { days: issuedDays });
    const pem = `${issued.chainPem}\n${issued.keyPem}`;
    await writePrivate(this.#o.defaultCertificate, pem);
    if (api && current !== undefined)
      await api.putCertificate(this.#o.defaultCertificate, pem, { isNew: false });
  }

  /** What was committed, as the manifest remembers it. */
  async loadManifest(): Promise<void> {
    try {
      this.#manifest = JSON.parse(await readFile(this.#manifestPath, 'utf8')) as Record<
        string,
        ManifestEntry
      >;
    } catch {
      this.#manifest = {};
    }
  }

  /** What HAProxy holds now: its certificates in memory and the crt-list's entries, with the manifest's versions. */
  async observe(api: RuntimeApi): Promise<void> {
    await this.loadManifest();
    const inMemory = new Set(await api.showCertificates());
    const listed = new Map((await api.showCrtList(this.#o.crtList)).map((entry) => [entry.file, entry.sni]));
    const observed = new Map<string, ObservedCertificate>();
    for (const path of inMemory) {
      if (!path.startsWith(`${this.#o.dir}/`)) continue;
      const file = path.slice(this.#o.dir.length + 1);
      if (file.includes('/')) continue;
      observed.set(file, {
        sni: listed.get(path),
        version: this.#manifest[file]?.version,
        notAfter: this.#manifest[file]?.notAfter,
      });
    }
    this.#observed = observed;
  }

  /**
   * Writes the files for a HAProxy that is not running yet: it loads them at
   * start. Afterwards `observe` reads what it took.
   */
  async writeAll(desired: readonly DesiredCertificate[]): Promise<void> {
    await this.loadManifest();
    // Files a previous run wrote and committed are kept: only new, replaced or expiring ones are written.
    const onDisk = new Map<string, ObservedCertificate>();
    for (const [file, entry] of Object.entries(this.#manifest)) {
      const exists = await readFile(this.#path(file)).then(
        () => true,
        () => false,
      );
      if (exists) onDisk.set(file, { sni: undefined, version: entry.version, notAfter: entry.notAfter });
    }
    for (const step of planCertificates(onDisk, desired, this.#now())) {
      if (step.kind !== 'install' || !step.content) continue;
      await this.#writeFile(step.certificate).catch((error: unknown) =>
        this.#failed(step.certificate.file, error),
      );
    }
    await this.#writeList(desired);
    await writePrivate(this.#manifestPath, `${JSON.stringify(this.#manifest)}\n`);
  }

  /** Takes HAProxy from what it holds to `desired`, through the runtime API. Returns the steps taken. */
  async apply(api: RuntimeApi, desired: readonly DesiredCertificate[]): Promise<number> {
    const steps = planCertificates(this.#observed, desired, this.#now());
    if (steps.length === 0) return 0;
    let taken = 0;
    for (const step of steps) {
      try {
        if (step.kind === 'remove') {
          if (step.listed) await api.delCrtListEntry(this.#o.crtList, this.#path(step.file));
          await api.delCertificate(this.#path(step.file));
          await rm(this.#path(step.file), { force: true });
          this.#observed.delete(step.file);
          delete this.#manifest[step.file];
        } else {
          const { certificate } = step;
          const path = this.#path(certificate.file);
          let entry = this.#manifest[certificate.file];
          if (step.content) {
            const written = await this.#writeFile(certificate);
            await api.putCertificate(path, written.pem, { isNew: step.isNew });
            entry = written.entry;
          }
          if (step.list) {
            const seen = this.#observed.get(certificate.file);
            if (seen?.sni !== undefined) await api.delCrtListEntry(this.#o.crtList, path);
            await api.addCrtListEntry(this.#o.crtList, path, certificate.sni);
          }
          this.#observed.set(certificate.file, {
            sni: certificate.sni,
            version: entry?.version,
            notAfter: entry?.notAfter,
          });
        }
        taken += 1;
      } catch (error) {
        this.#failed(step.kind === 'remove' ? step.file : step.certificate.file, error);
      }
    }
    // Callers hold the data plane's exclusive section: no reload reads the list before it is written.
    await this.#writeList(desired);
    await writePrivate(this.#manifestPath, `${JSON.stringify(this.#manifest)}\n`);
    return taken;
  }

  #failed(file: string, error: unknown): void {
    // One bad certificate (an unreadable key, a PEM HAProxy refuses) must not keep the others from being served.
    this.#o.logger.error(
      { certificate: file, err: (error as Error).message },
      'certificate not installed; the next pass tries again',
    );
  }

  /** Writes the certificate's PEM (chain, then key) and records it in the manifest. */
  async #writeFile(certificate: DesiredCertificate): Promise<{ pem: string; entry: ManifestEntry }> {
    const { source } = certificate;
    let pem: string;
    let entry: ManifestEntry;
    if (source.kind === 'operator') {
      pem = checkPem('certificate', await this.#o.operatorPem(source.domain));
      entry = { version: source.version, notAfter: Date.parse(new X509Certificate(pem).validTo) };
    } else {
      const issued = await issueServerCertificate(this.#o.ca, source.names, { days: issuedDays });
      pem = checkPem('certificate', `${issued.chainPem}\n${issued.keyPem}`);
      entry = {
        version: issuedVersion(source.names),
        notAfter: Date.parse(new X509Certificate(issued.certPem).validTo),
      };
    }
    await writePrivate(this.#path(certificate.file), `${pem}\n`);
    this.#manifest[certificate.file] = entry;
    return { pem, entry };
  }

  /** The crt-list file: the desired entries, minus new ones whose file could not be written. */
  async #writeList(desired: readonly DesiredCertificate[]): Promise<void> {
    const lines: string[] = [];
    for (const certificate of desired) {
      const path = this.#path(certificate.file);
      const exists = await readFile(path).then(
        () => true,
        () => false,
      );
      if (exists) lines.push(`${path} ${certificate.sni.join(' ')}\n`);
    }
    await writePrivate(this.#o.crtList, lines.join(''));
  }
}

/** Writes a file only root reads, whole or not at all (a rename over the old one). */
export async function writePrivate(path: string, content: string): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await rename(temporary, path);
}
