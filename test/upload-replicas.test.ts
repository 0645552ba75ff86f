/**
 * Resumable uploads across two gateway replicas sharing PostgreSQL (src/state/upload-sessions.ts):
 * a session opened on one replica takes its chunks on the other, stays bound to its opener there,
 * its URL is the configured public URL (the load balancer's) whatever Host the caller sent, the
 * per-principal cap holds across replicas, and `bq load` of a local file through the balancer
 * loads its rows wherever its requests land.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReplicas, type ReplicaSet } from './helpers/replicas.ts';
import { demoAndAdminPolicies } from './helpers/admin-policy.ts';
import { runBq } from './helpers/bq.ts';
import { rawHttp as raw } from './helpers/raw-http.ts';

let set: ReplicaSet;
let admin: string;
beforeAll(async () => {
  set = await startReplicas(2, { BQGATE_POLICIES: demoAndAdminPolicies() });
  admin = await set.token({ sub: 'upr-admin', groups: ['test-admins'] });
  await set.sdk(admin).createDataset('uplr');
}, 240_000);
afterAll(async () => { await set?.stop(); });

const SCHEMA = { fields: [{ name: 'a', type: 'STRING' }, { name: 'b', type: 'INTEGER' }] };
const FILE = Buffer.from('a,b\nx,1\ny,2\nz,3\n');


const open = (base: string, token: string, table: string, headers: Record<string, string> = {}) => raw('POST', `${base}/upload/bigquery/v2/projects/demo-project/jobs?uploadType=resumable`,
  { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
  JSON.stringify({ configuration: { load: { destinationTable: { projectId: 'demo-project', datasetId: 'uplr', tableId: table }, sourceFormat: 'CSV', skipLeadingRows: 1, schema: SCHEMA } } }));

/** The session URL with its origin replaced by `base` (a chunk sent straight to one replica). */
const on = (location: string, base: string) => { const u = new URL(location); return `${base}${u.pathname}${u.search}`; };

const rows = async (table: string) => (await set.sdk(admin).query({ query: `SELECT a, b FROM \`demo-project.uplr.${table}\` ORDER BY a` }))[0];

describe('resumable uploads across replicas', () => {
  it('opens a session on one replica and takes its chunks on the other, bound to its opener there', async () => {
    const [a, b] = set.replicas;
    const opened = await open(a.url, admin, 'two_replicas', { host: 'attacker.example', 'x-upload-content-length': String(FILE.length) });
    const location = String(opened.headers.location ?? '');
    console.log('opened on replica A with Host attacker.example:', opened.status, location.replace(/upload_id=.*/, 'upload_id=…'), '(balancer', set.url, ')');
    expect(opened.status).toBe(200);
    expect(new URL(location).origin).toBe(set.url);
    const stranger = await set.token({ sub: 'upr-stranger', groups: ['test-admins'] });
    const stolen = await raw('PUT', on(location, b.url), { authorization: `Bearer ${stranger}`, 'content-range': `bytes 0-6/${FILE.length}` }, FILE.subarray(0, 7));
    console.log('a chunk from another principal on replica B:', stolen.status, stolen.body?.error?.message);
    expect(stolen.status).toBe(403);
    expect(stolen.body.error.errors[0].reason).toBe('accessDenied');
    const first = await raw('PUT', on(location, b.url), { authorization: `Bearer ${admin}`, 'content-range': `bytes 0-6/${FILE.length}` }, FILE.subarray(0, 7));
    console.log('first chunk on replica B:', first.status, first.headers.range);
    expect(first.status).toBe(308);
    expect(first.headers.range).toBe('bytes=0-6');
    // The offset replica B recorded is what replica A checks the next chunk against.
    const stale = await raw('PUT', on(location, a.url), { authorization: `Bearer ${admin}`, 'content-range': `bytes 0-6/${FILE.length}` }, FILE.subarray(0, 7));
    console.log('the first chunk again, on replica A:', stale.status, stale.body?.error?.message);
    expect(stale.status).toBe(400);
    const last = await raw('PUT', on(location, a.url), { authorization: `Bearer ${admin}`, 'content-range': `bytes 7-${FILE.length - 1}/${FILE.length}` }, FILE.subarray(7));
    console.log('last chunk on replica A:', last.status, last.body?.status?.state);
    expect(last.status).toBe(200);
    expect(await rows('two_replicas')).toEqual([{ a: 'x', b: 1 }, { a: 'y', b: 2 }, { a: 'z', b: 3 }]);
    const again = await raw('PUT', on(location, b.url), { authorization: `Bearer ${admin}` }, FILE);
    console.log('a PUT to the finished session, on replica B:', again.status);
    expect(again.status).toBe(404);
  }, 120_000);

  it('counts one principal\'s open sessions across replicas', async () => {
    const hoarder = await set.token({ sub: 'upr-hoarder', groups: ['test-admins'] });
    const statuses: number[] = [];
    for (let i = 0; i < 17; i++) statuses.push((await open(set.replicas[i % 2].url, hoarder, 'many')).status);
    const refused = statuses.findIndex((s) => s !== 200);
    console.log('sessions opened alternately on two replicas before a refusal:', refused, 'then', statuses[refused]);
    expect(refused).toBe(16);
    expect(statuses[refused]).toBe(429);
    expect((await open(set.replicas[0].url, admin, 'many')).status).toBe(200);
  }, 120_000);

  it('bq load of a local file through the balancer loads its rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bqgate-upload-replicas-'));
    writeFileSync(join(dir, 'rows.csv'), FILE);
    const served = () => set.replicas.map((r) => readFileSync(join(r.dataDir, `responses-${new URL(r.url).port}.log`), 'utf8').split('\n').filter((l) => l.includes('"url":"/upload/')).map((l) => JSON.parse(l).method as string));
    const before = served();
    const results: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await runBq(set.url, admin, ['load', '--source_format=CSV', '--skip_leading_rows=1', `demo-project:uplr.bq_${i}`, join(dir, 'rows.csv'), 'a:STRING,b:INTEGER']);
      if (r.code !== 0) console.log(r.stdout, r.stderr);
      results.push(r.code);
    }
    const after = served();
    console.log('bq load exits:', results.join(','), '; upload requests per replica (POST/PUT):', after.map((m, i) => { const n = m.slice(before[i].length); return `${n.filter((x) => x === 'POST').length}/${n.filter((x) => x === 'PUT').length}`; }).join(' '));
    expect(results).toEqual([0, 0, 0, 0]);
    for (let i = 0; i < 4; i++) expect((await rows(`bq_${i}`)).length).toBe(3);
  }, 240_000);
});
