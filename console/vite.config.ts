// Builds the web console (Preact) into console/dist, served by the gateway under /console/.
// Everything is bundled: no CDN, no runtime fetch of code or fonts.
import { defineConfig } from 'vite';

export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 800 },
  logLevel: 'warn',
});
