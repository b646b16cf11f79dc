import { defineConfig } from 'vite';

/**
 * The console: its own Vite root, built into web/dist, which Steward serves.
 * Vite 8 transforms TSX itself (Oxc, the automatic JSX runtime): no plugin.
 * Every page is a lazy chunk; the first load is the shell, React and the router.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 250,
  },
  server: { host: '127.0.0.1' },
});
