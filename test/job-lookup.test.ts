/**
 * The pipeline's job lookup (for the session a poll joins) is handed to the operation's own lookup
 * of the same job within one request, once (doors/bigquery/job-ids.ts prefetchOwnJob,
 * request-scope.ts handOn): a real SQLite job store, its reads counted.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openState, type JobStore } from '../src/state/index.js';
import { findOwnJob, prefetchOwnJob, upstreamJobId } from '../src/doors/bigquery/job-ids.js';
import { withScope } from '../src/request-scope.js';

const owner = { issuer: 'http://issuer.test', subject: 'alice' };

async function countedStore() {
  const state = await openState({ dataDir: mkdtempSync(join(tmpdir(), 'bqgate-joblookup-')) });
  const reads = { n: 0 };
  const store = new Proxy(state.jobs, {
    get(t, k, r) {
      const v = Reflect.get(t, k, r);
      return k === 'getJob' ? (...a: Parameters<JobStore['getJob']>) => { reads.n++; return (v as JobStore['getJob']).apply(t, a); } : typeof v === 'function' ? v.bind(t) : v;
    },
  }) as JobStore;
  await state.jobs.insertJob({ projectId: 'p', jobId: upstreamJobId(owner, 'j1'), location: 'US', ownerIssuer: owner.issuer, ownerSubject: owner.subject, query: 'SELECT 1', upstreamQuery: 'SELECT 1', statementType: 'SELECT', createdAt: Date.now(), sessionKey: 's1' });
  return { store, reads };
}

describe('job lookup handed on within a request', () => {
  it('the operation\'s lookup takes the pipeline\'s answer, once; later lookups read the store', async () => {
    const { store, reads } = await countedStore();
    await withScope({ timings: {} }, async () => {
      const pre = await prefetchOwnJob(store, owner, 'p', 'j1');
      const afterPrefetch = reads.n;
      const op = await findOwnJob(store, owner, 'p', 'j1');
      expect(op).toEqual(pre);
      expect(reads.n).toBe(afterPrefetch); // no second read
      await findOwnJob(store, owner, 'p', 'j1');
      console.log(`store reads: prefetch ${afterPrefetch}, handed-on lookup 0, a later lookup ${reads.n - afterPrefetch}`);
      expect(reads.n).toBeGreaterThan(afterPrefetch);
    });
  });

  it('hands nothing to another job, another owner, or another request', async () => {
    const { store, reads } = await countedStore();
    await withScope({ timings: {} }, async () => {
      await prefetchOwnJob(store, owner, 'p', 'j1');
      const n = reads.n;
      expect(await findOwnJob(store, { ...owner, subject: 'mallory' }, 'p', 'j1')).toBeUndefined();
      expect(reads.n).toBeGreaterThan(n);
    });
    await withScope({ timings: {} }, async () => { await prefetchOwnJob(store, owner, 'p', 'j1'); });
    const n = reads.n;
    await withScope({ timings: {} }, async () => { expect((await findOwnJob(store, owner, 'p', 'j1'))?.sessionKey).toBe('s1'); });
    expect(reads.n).toBeGreaterThan(n);
  });
});
