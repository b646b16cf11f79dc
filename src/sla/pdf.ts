import { access, constants } from 'node:fs/promises';
import { UnavailableError } from '../core/errors.ts';

/**
 * Prints an HTML report to PDF with Debian's Chromium, headless, through
 * playwright-core (never a downloaded browser). The page gets no network and
 * no JavaScript: it is self-contained, and it holds text a tenant wrote.
 */
export const chromiumPath = '/usr/bin/chromium';

export async function htmlToPdf(html: string, executablePath: string = chromiumPath): Promise<Buffer> {
  try {
    await access(executablePath, constants.X_OK);
  } catch {
    throw new UnavailableError(
      `PDF reports need Chromium at ${executablePath}: install the Debian package "chromium" (apt-get install chromium), or use -o html and print it`,
    );
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  try {
    const context = await browser.newContext({ javaScriptEnabled: false, offline: true });
    await context.route('**/*', (route) => route.abort());
    const page = await context.newPage();
    await page.setContent(html, { waitUntil: 'load' });
    return await page.pdf({
      format: 'A4',
      printBackground: true,
      margin: { top: '15mm', bottom: '15mm', left: '12mm', right: '12mm' },
    });
  } finally {
    await browser.close();
  }
}
