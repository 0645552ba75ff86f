// `npm run build:server`: compiles src/ to dist/ (tsconfig.build.json) and copies the data files the
// modules read beside themselves (ZetaSQL function/TVF catalogues: *.yaml, *.tsv). dist/ is rebuilt
// from scratch so no module of a removed source survives. The TypeScript-only worker boot
// (src/audit/worker-boot.mjs, which registers tsx) is not needed by the compiled code and not copied.
import { cpSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src');
const dist = join(root, 'dist');
const DATA = new Set(['.yaml', '.yml', '.tsv', '.json']);

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
cpSync(src, dist, { recursive: true, filter: (from) => statSync(from).isDirectory() || DATA.has(extname(from)) });
