import { spawn } from 'node:child_process';

/** Packs a directory as a release upload: a .tar.gz without node_modules and .git. */
export function packDirectory(
  dir: string,
  onProgress: (bytes: number) => void = () => undefined,
): Promise<Buffer> {
  return new Promise((resolvePack, reject) => {
    const child = spawn('tar', ['-czf', '-', '--exclude=node_modules', '--exclude=.git', '-C', dir, '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      onProgress(size);
    });
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
    child.on('error', (error) => reject(new Error(`cannot run tar to pack ${dir}: ${error.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolvePack(Buffer.concat(chunks));
      else reject(new Error(`tar could not pack ${dir} (exit ${code ?? 'signal'}): ${errors.trim()}`));
    });
  });
}
