/** Worker side of sqlite-thread.ts: one SqliteLog, its methods called by message. */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteLog } from './sqlite-log.js';

const log = new SqliteLog(workerData.dataDir) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
const METHODS = new Set(['ping', 'appendLeaves', 'checkpointInputs', 'insertCheckpoint', 'events', 'entries', 'checkpoints', 'size', 'prune', 'sinkCursor', 'setSinkCursor', 'close']);

parentPort!.on('message', async (m: { id: number; method: string; args: unknown[] }) => {
  try {
    if (!METHODS.has(m.method)) throw new Error(`unknown method ${m.method}`);
    parentPort!.postMessage({ id: m.id, result: await log[m.method](...m.args) });
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: (err as Error).message });
  }
});
