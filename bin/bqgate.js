#!/usr/bin/env node
// bqgate command line. In production (NODE_ENV=production, or no src/ beside bin/) it runs the
// compiled server (dist/, written by `npm run build`); in development the TypeScript sources
// through tsx's loader (a dev dependency), so no build step is needed there.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/index.js', import.meta.url);
const sources = new URL('../src/cli/index.ts', import.meta.url);
if (process.env.NODE_ENV === 'production' || !existsSync(sources)) {
  if (!existsSync(compiled)) {
    process.stderr.write(`bqgate: the compiled server ${compiled.pathname} is missing: run \`npm run build\` first`
      + (existsSync(sources) ? ' (or run the sources through tsx: unset NODE_ENV=production)' : '') + '\n');
    process.exit(1);
  }
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
}
