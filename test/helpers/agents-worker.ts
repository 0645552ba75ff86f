/**
 * A worker thread of simulated agents for the load test: each agent, with its own token and the
 * real SDK pointed at the load balancer, creates query jobs (`{n}` in a query's text: a number unique to the agent and iteration) and polls their results in a loop until
 * the deadline, and reports every outcome (ok with its job id and row count, or the error's HTTP
 * code, BigQuery reason and message) to the parent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';

/** `ms`: the query's duration; `end`: when it finished (ms since epoch). */
export interface AgentOutcome { agent: string; query: string; ok: boolean; ms: number; end: number; jobId?: string; rows?: number; code?: number; reason?: string; message?: string }
interface Input { url: string; agents: Array<{ sub: string; token: string }>; queries: Array<{ name: string; sql: string }>; until: number }

const input = workerData as Input;

/** A call that never settles (a client bug) becomes an error without a BigQuery reason after 120 s. */
const hung = <T>(p: Promise<T>) => Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 120 s')), 120_000).unref())]);
// The SDK's retried-insert path awaits jobs.get inside a callback; a rejection there must not end the worker.
process.on('unhandledRejection', () => {});

async function agent(a: { sub: string; token: string }, seed: number): Promise<AgentOutcome[]> {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: a.token });
  const sdk = new BigQuery({ projectId: 'demo-project', apiEndpoint: input.url, authClient, autoRetry: true, maxRetries: 5 });
  const out: AgentOutcome[] = [];
  for (let i = seed; Date.now() < input.until; i++) {
    const q = input.queries[i % input.queries.length];
    const t0 = performance.now();
    let jobId: string | undefined;
    try {
      const [job] = await hung(sdk.createQueryJob({ query: q.sql.replaceAll('{n}', String(seed * 1_000_000 + i - seed)), useLegacySql: false, labels: { bqgate_session: `load-${a.sub}` } }));
      jobId = job.id;
      const [rows] = await hung(job.getQueryResults());
      out.push({ agent: a.sub, query: q.name, ok: true, ms: performance.now() - t0, end: Date.now(), jobId, rows: rows.length });
    } catch (err) {
      const e = err as { code?: number; message?: string; errors?: Array<{ reason?: string }> };
      out.push({ agent: a.sub, query: q.name, ok: false, ms: performance.now() - t0, end: Date.now(), jobId, code: typeof e.code === 'number' ? e.code : undefined, reason: e.errors?.[0]?.reason, message: String(e.message ?? err).slice(0, 300) });
    }
  }
  return out;
}

const results = await Promise.all(input.agents.map((a, i) => agent(a, i)));
parentPort!.postMessage(results.flat());
