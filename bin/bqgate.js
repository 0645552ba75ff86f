#!/usr/bin/env node
// bqgate command line. Runs the TypeScript sources through tsx's loader (no build step).
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/index.ts');
