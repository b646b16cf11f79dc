import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import S3rver from 's3rver';
import { DUMMY_ACCOUNT } from 's3rver/lib/models/account.js';
import { createCa, issueServerCertificate } from '../../src/tls/ca.ts';

export interface S3Server {
  /** pgBackRest checks the certificate against DNS names only, so the endpoint is a name. */
  readonly endpoint: 'localhost';
  readonly port: number;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The throwaway CA that issued the server's certificate (PEM, readable by postgres). */
  readonly caFile: string;
  /** Where s3rver keeps the bucket's objects, one file per object (`<key>._S3rver_object`). */
  readonly bucketDir: string;
  close(): Promise<void>;
}

/**
 * A real S3 protocol server (s3rver) in this process, over HTTPS on
 * 127.0.0.1, with a certificate for DNS:localhost from a CA of its own, one
 * bucket, and a key pair of its own: random, so a leak test can look for it
 * (s3rver's built-in S3RVER/S3RVER is too plain a string to search for).
 *
 * `root` must be traversable by postgres (pgBackRest reads the CA file as
 * postgres); the backup lab's root is 0711.
 */
export async function startS3Server(options: { root: string }): Promise<S3Server> {
  const root = options.root;
  await mkdir(root, { recursive: true, mode: 0o711 });
  await chmod(root, 0o711);
  const ca = await createCa('Steward test S3 CA');
  const issued = await issueServerCertificate(ca, ['localhost'], { days: 2 });
  const caFile = join(root, 'ca.pem');
  await writeFile(caFile, ca.certPem, { mode: 0o644 });
  await chmod(caFile, 0o644);
  const directory = join(root, 'data');
  await mkdir(directory, { mode: 0o700 });

  const bucket = 'steward-backups';
  const accessKeyId = `STEWARDTEST${randomBytes(6).toString('hex').toUpperCase()}`;
  const secretAccessKey = `s3-secret-${randomBytes(18).toString('base64url')}`;
  DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);

  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    key: issued.keyPem,
    cert: issued.certPem,
    silent: true,
    directory,
    // Path-style only: "localhost" is no bucket's virtual host.
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  let address;
  try {
    address = await server.run();
  } catch (error) {
    DUMMY_ACCOUNT.revokeAccessKey(accessKeyId);
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    endpoint: 'localhost',
    port: address.port,
    bucket,
    accessKeyId,
    secretAccessKey,
    caFile,
    bucketDir: join(directory, bucket),
    close() {
      closing ??= server.close().finally(() => DUMMY_ACCOUNT.revokeAccessKey(accessKeyId));
      return closing;
    },
  };
}
