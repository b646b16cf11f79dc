import { createInterface } from 'node:readline';

/** Reads all of stdin (for --password-stdin). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Asks a question on the terminal; hides the answer when `secret`. */
export function ask(question: string, secret = false): Promise<string> {
  if (!process.stdin.isTTY) {
    return Promise.reject(new Error(`${question.trim()} needs a terminal; pipe the answer to stdin instead`));
  }
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (secret) {
      const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
      (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
        if (s.includes(question)) write.call(rl, s);
      };
    }
    rl.question(question, (answer) => {
      rl.close();
      if (secret) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/** Goes on when `yes` or when the terminal's user types `expected`; refuses otherwise. */
export async function confirm(what: string, expected: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new Error(`${what}: pass --yes to confirm (no terminal to ask on)`);
  const answer = await ask(`${what}. Type "${expected}" to confirm: `);
  if (answer.trim() !== expected) throw new Error('not confirmed; nothing was changed');
}
