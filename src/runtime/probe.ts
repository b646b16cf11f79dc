import { request } from 'node:http';

export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * One HTTP health probe: GET http://127.0.0.1:<port><path>; any 2xx or 3xx
 * within the timeout passes. Never rejects.
 */
export function probeHttp(port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = request(
      { host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: { connection: 'close' } },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        if (status >= 200 && status < 400) finish({ ok: true });
        else finish({ ok: false, reason: `GET ${path} answered ${status}` });
      },
    );
    const timer = setTimeout(
      () => finish({ ok: false, reason: `GET ${path} timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ ok: false, reason: `GET ${path} failed: ${error.code ?? error.message}` }),
    );
    req.end();
  });
}
