import { createHash } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';

/**
 * The base64 SHA-256 of the public key a TLS server presents for `servername`,
 * after Node verified its certificate against `ca`: what Chromium's
 * `--ignore-certificate-errors-spki-list` pins, so a browser test trusts that
 * one key rather than turning certificate checks off.
 */
export function serverSpki(port: number, servername: string, ca: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.end();
      if (!raw) return reject(new Error('no certificate'));
      resolve(
        createHash('sha256')
          .update(raw.publicKey.export({ type: 'spki', format: 'der' }))
          .digest('base64'),
      );
    });
    socket.on('error', reject);
  });
}
