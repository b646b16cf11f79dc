import { buildConsole } from './build.ts';

// npm run build:console: vite build of web/ into web/dist, precompressed (.br, .gz).
const started = Date.now();
const { dist, files } = await buildConsole();
process.stdout.write(
  `console built into ${dist} in ${((Date.now() - started) / 1000).toFixed(1)} s (${files} files precompressed)\n`,
);
