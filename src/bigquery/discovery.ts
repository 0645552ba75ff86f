/**
 * The BigQuery v2 discovery document that `bq` fetches from `GET /$discovery/rest?version=v2` on every
 * invocation (CONTRACT.md §1.2). `bq` builds its request paths from the document's `flatPath`s, so the
 * stock document is served verbatim: the one shipped with the Cloud SDK's `bq`
 * (`platform/bq/discovery_next/bigquery.json`), or the file named by `BQGATE_DISCOVERY_FILE`.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';

let cached: string | null | undefined;

/** Candidate paths of the stock document, most specific first. */
export function discoveryCandidates(): string[] {
  const out: string[] = [];
  if (process.env.BQGATE_DISCOVERY_FILE) out.push(process.env.BQGATE_DISCOVERY_FILE);
  try {
    const bq = realpathSync(execFileSync('sh', ['-c', 'command -v bq'], { encoding: 'utf8' }).trim());
    out.push(join(dirname(dirname(bq)), 'platform', 'bq', 'discovery_next', 'bigquery.json'));
  } catch { /* bq not installed */ }
  out.push('/usr/lib/google-cloud-sdk/platform/bq/discovery_next/bigquery.json');
  return out;
}

/** The document's JSON text, or null when no copy is available on this machine. */
export function discoveryDocument(): string | null {
  if (cached !== undefined) return cached;
  const file = discoveryCandidates().find((p) => existsSync(p));
  cached = file ? readFileSync(file, 'utf8') : null;
  return cached;
}
