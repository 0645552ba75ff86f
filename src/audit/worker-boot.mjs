// Worker-thread entry: registers tsx's loader (as bin/bqgate.js does), then loads the TypeScript
// module named in workerData.entry.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
