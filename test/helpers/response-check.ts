/**
 * The harness's check that no response the gateway sent carries gateway internals. Every gateway
 * started by `startGateway()` records its responses (BQGATE_TEST_RESPONSE_LOG, src/response-log.ts);
 * `stop()` runs `forbiddenInResponses` over that log and throws when something was found, so every
 * test file that starts a gateway is covered.
 *
 * Forbidden in any response: the HMAC_SHA256 pads (hex of key ⊕ 0x36 and key ⊕ 0x5c: the key
 * follows from either), the key itself, and any `FROM_HEX('<32+ hex digits>')` literal (how the
 * rewrite writes pads and RANDOM_HASH salts). Forbidden in BigQuery API responses: the text of a
 * policy row filter (other than TRUE/FALSE), unless the caller's own request contained it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** The HMAC pads of `keyHex` (as masks.ts computes them), lowercase hex. */
export function hmacPads(keyHex: string): { ipad: string; opad: string } {
  let key = Buffer.from(keyHex, 'hex');
  if (key.length > 64) key = createHash('sha256').update(key).digest();
  const k0 = Buffer.alloc(64);
  key.copy(k0);
  return { ipad: Buffer.from(k0.map((b) => b ^ 0x36)).toString('hex'), opad: Buffer.from(k0.map((b) => b ^ 0x5c)).toString('hex') };
}

/** The row-filter predicates of the policy files in `dir` (TRUE and FALSE left out). */
export function rowFilters(dir: string): string[] {
  const out: string[] = [];
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    if (!/\.ya?ml$/.test(f)) continue;
    const doc = parse(readFileSync(join(dir, f), 'utf8')) as { rules?: Array<{ effect?: string; filter?: string }> } | null;
    for (const r of doc?.rules ?? []) if (r.effect === 'filter' && r.filter && !/^\s*(TRUE|FALSE)\s*$/i.test(r.filter)) out.push(r.filter.trim());
  }
  return out;
}

/** Where the gateway's HMAC key comes from, as server.ts loadHmacKey reads it. */
function hmacKeyHex(dataDir: string, env: Record<string, string | undefined>): string | undefined {
  if (env.BQGATE_HMAC_KEY) return env.BQGATE_HMAC_KEY;
  const file = env.BQGATE_HMAC_KEY_FILE ?? join(dataDir, 'keys', 'hmac.key');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

interface Line { method: string; url: string; request: unknown; status: number; body: string }

/**
 * What the responses in `logFile` must not have carried, one finding per line
 * (`METHOD url: what`); empty when clean or when no log exists.
 */
export function forbiddenInResponses(logFile: string, o: { dataDir: string; policiesDir: string; env: Record<string, string | undefined> }): string[] {
  if (!existsSync(logFile)) return [];
  const key = hmacKeyHex(o.dataDir, o.env);
  const secrets = key ? Object.entries({ 'HMAC key': key.toLowerCase(), ...hmacPads(key) }) : [];
  const filters = rowFilters(o.policiesDir);
  const found: string[] = [];
  for (const text of readFileSync(logFile, 'utf8').split('\n')) {
    if (!text) continue;
    const l = JSON.parse(text) as Line;
    const body = l.body.toLowerCase();
    const asked = JSON.stringify(l.request ?? '') + l.url;
    const where = `${l.method} ${l.url.slice(0, 120)}`;
    for (const [name, hex] of secrets) if (body.includes(hex)) found.push(`${where}: the ${name}`);
    const literal = l.body.match(/FROM_HEX\s*\(\s*'[0-9a-fA-F]{32,}'/i);
    if (literal && !asked.includes(literal[0])) found.push(`${where}: a FROM_HEX literal of 16+ bytes (HMAC pad or RANDOM_HASH salt): ${literal[0].slice(0, 40)}…`);
    const api = /^\/(bigquery\/v2\/)?projects\b/.test(l.url);
    for (const f of api ? filters : []) {
      const needle = JSON.stringify(f).slice(1, -1); // as it appears inside a JSON string
      if ((l.body.includes(needle) || l.body.includes(f)) && !asked.includes(needle) && !asked.includes(f)) found.push(`${where}: the row filter ${f}`);
    }
  }
  return found;
}
