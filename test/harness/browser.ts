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

type Shootable = { screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown> };

/**
 * Saves a screenshot as evidence of what a browser test saw. Chromium under
 * a loaded CI machine sometimes answers `Page.captureScreenshot` with
 * "Unable to capture screenshot" (its compositor had no frame ready); that is
 * not the product failing, so it is tried again after a pause, and when it
 * still fails the test goes on with a warning, because the screenshot is an
 * artifact, not an assertion. When the README's images are being refreshed
 * (STEWARD_UPDATE_SCREENSHOTS=1) a missing screenshot is an error.
 */
export async function saveScreenshot(
  page: Shootable,
  options: { path: string; fullPage?: boolean },
): Promise<boolean> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await page.screenshot(options);
      return true;
    } catch (error) {
      last = error;
      if (!/Unable to capture screenshot|Target closed|timeout/i.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 750));
    }
  }
  if (process.env.STEWARD_UPDATE_SCREENSHOTS === '1') throw last;
  process.stderr.write(`warning: no screenshot at ${options.path}: ${String(last).split('\n')[0]}\n`);
  return false;
}
