/**
 * Property test (issue 16): lexically tricky statements — nested and unterminated comments, `--` and
 * `#` comments ended by CR, LF, CRLF and Unicode line separators, every literal form (raw, bytes,
 * triple-quoted, with escapes), backquoted identifiers with odd characters — mixed with table
 * references, sent through the real gateway to the real emulator as an analyst. For each statement
 * the gateway answered, what the emulator actually read (the SQL the audit says was sent, translated
 * by the emulator's own translator and read by DuckDB's own parser) names exactly the tables of the
 * gateway's analysis, carries no comment, and the rows carry no raw value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { auditRequests, startGateway, type TestGateway } from './helpers/gateway.ts';
import { toDuckDb, scan } from '../src/emulator/translate.ts';

let gw: TestGateway;
let analyst: string;
let duck: DuckDBConnection;
const secrets = new Set<string>();

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible statement. */
function prng(seed: number) {
  return () => { seed |= 0; seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

/** What an attacker hides: text that would read raw values or the host if some parser ran it. */
const HIDDEN = [
  'shop.customers', ', ssn, full_name', 'UNION ALL SELECT ssn FROM shop.customers', "(SELECT content FROM read_text('/etc/passwd'))",
  'shop.customers AS c2 ON TRUE', 'WHERE FALSE', ', card_number AS email',
];
/** Ways to hide text T between two tokens (each leaves the statement valid for ZetaSQL, or refused). */
const HIDERS: Array<(t: string) => string> = [
  (t) => `/* ${t} */`, (t) => `/* /* */ ${t} -- */\n`, (t) => `/* /* ${t} */`, (t) => `-- ${t}\n`, (t) => `-- x\r${t}\n`,
  (t) => `-- ${t}\r`, (t) => `-- ${t}\r\n`, (t) => `# ${t}\n`, (t) => `# x\r ${t}\n`, (t) => `-- x\u2028${t}\n`, (t) => `-- x\u2029 ${t}\n`,
  (t) => `-- \r /* \n ${t} -- */\n`, (t) => `# \r /* \n ${t} # */\n`, () => ' ',
];
/** Literal select items, with the forms and escapes that lexers read differently. */
const LITERALS = [
  "r'''\\''''", 'R"""\\""""', "'''a\\'''b'''", '"""a\\"""b"""', "'a\\'b'", '"a\\"b"', "r'\\\\'", "b'\\x27'", "B\"\\x00\\\"\"", "br'\\'",
  "'--'", "'/*'", "'#'", "'\\u2028'", "'\\n-- x'", "b'''\\''''", "rb'''\\\\'''", "'\\x2d\\x2d'", '0x1F', '1.5e3', "NUMERIC '1.5'", "JSON '{\"a\": \"--\"}'",
];
const ALIASES = ['x', '`a b`', '`--x`', '`a\\`b`', '`/*`', '`é`', '`#`', '`select`'];
const TABLES = ['shop.customers', '`demo-project.shop.customers`', '`demo-project`.shop.customers', 'shop.orders', '`demo-project`.`shop`.`orders`'];
const COLUMNS: Record<string, string[]> = { customers: ['customer_id', 'email', 'country', 'full_name', 'card_number'], orders: ['order_id', 'customer_id', 'amount'] };

/** One generated statement. */
function statement(rand: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const noise = () => (rand() < 0.6 ? pick(HIDERS)(pick(HIDDEN)) : ' ');
  const table = pick(TABLES);
  const cols = COLUMNS[table.includes('orders') ? 'orders' : 'customers'];
  const items = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i) => (rand() < 0.5 ? pick(cols) : `${pick(LITERALS)} AS ${i === 0 ? pick(ALIASES) : `l${i}`}`));
  const where = rand() < 0.4 ? ` WHERE${noise()}${cols[0]} > ${Math.floor(rand() * 5)}` : '';
  return `SELECT ${[...new Set(items)].join(`,${noise()}`)} FROM${noise()}${table}${noise()}${where} LIMIT ${1 + Math.floor(rand() * 5)}${noise()}`;
}

/** Tables DuckDB reads for `sql` as the emulator translates it, fully qualified. */
async function tablesRead(sql: string): Promise<string[]> {
  const [translated] = toDuckDb(sql);
  const r = await duck.runAndReadAll(`SELECT json_serialize_sql('${translated.replace(/'/g, "''")}')`);
  const tree = JSON.parse(String(r.getRows()[0][0]));
  if (tree.error) throw new Error(`DuckDB could not read ${translated}: ${tree.error_message}`);
  const out = new Set<string>();
  const walk = (n: any) => {
    if (!n || typeof n !== 'object') return;
    if (n.type === 'BASE_TABLE') out.add([n.catalog_name || 'demo-project', n.schema_name || 'shop', n.table_name].join('.'));
    for (const v of Object.values(n)) walk(v);
  };
  walk(tree);
  return [...out].sort();
}

beforeAll(async () => {
  gw = await startGateway();
  analyst = await gw.token({ sub: 'lexical-analyst', groups: ['analysts'] });
  const [rows] = await gw.emulatorSdk().query({ query: 'SELECT email, full_name, card_number, ssn FROM shop.customers', useLegacySql: false });
  for (const r of rows as Array<Record<string, string>>) for (const v of Object.values(r)) secrets.add(v);
  duck = await (await DuckDBInstance.create(':memory:')).connect();
}, 180_000);
afterAll(async () => { await gw?.stop(); });

describe('lexically tricky statements', () => {
  it('what the emulator reads is what the gateway analyzed, and nothing raw is delivered', async () => {
    const rand = prng(20261201);
    const sqls = Array.from({ length: 120 }, () => statement(rand));
    const outcomes = { answered: 0, refused: new Map<string, number>() };
    const one = async (sql: string) => {
      const res = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/queries`, {
        method: 'POST', headers: { authorization: `Bearer ${analyst}`, 'content-type': 'application/json', 'x-bqgate-session': 'lexical', connection: 'close' },
        body: JSON.stringify({ query: sql, useLegacySql: false, timeoutMs: 20_000 }),
      }).catch((err) => { throw new Error(`${JSON.stringify(sql)}: ${err.message}; gateway said: ${gw.output().slice(-3000)}`); });
      const text = await res.text();
      for (const s of secrets) expect(text.includes(s), `raw value delivered for ${JSON.stringify(sql)}`).toBe(false);
      expect(text, 'no response names a host file').not.toMatch(/root:x:0:0/);
      if (res.status === 200) { outcomes.answered++; return; }
      const reason = JSON.parse(text).error?.errors?.[0]?.reason;
      expect(['invalidQuery', 'accessDenied', 'notFound'], `${JSON.stringify(sql)} → ${text}`).toContain(reason);
      outcomes.refused.set(reason, (outcomes.refused.get(reason) ?? 0) + 1);
      if (process.env.LEXICAL_TRACE) console.log(JSON.stringify(sql), '→', JSON.parse(text).error?.message);
    };
    // Four at a time: a few agents at once, as in real use; each statement is checked on its own.
    for (let i = 0; i < sqls.length; i += 4) await Promise.all(sqls.slice(i, i + 4).map(one));
    console.log(`lexical property test: ${sqls.length} statements, ${outcomes.answered} answered, refused: ${JSON.stringify(Object.fromEntries(outcomes.refused))}`);
    expect(outcomes.answered, 'the generator must produce statements that run').toBeGreaterThan(sqls.length / 4);

    const records = (await auditRequests(gw.dataDir)).filter((r) => r.sessionKey === 'lexical' && r.decision?.effect === 'allow' && r.upstream?.sql && r.response?.status === 200);
    expect(records.length).toBe(outcomes.answered);
    for (const r of records) {
      const sent = r.upstream!.sql!;
      expect(sqls, 'the audit keeps the caller text beside what was sent').toContain(r.sql);
      const comments: string[] = [];
      scan(sent, (kind, a, b) => { if (kind === 'comment') comments.push(sent.slice(a, b)); });
      expect(comments, `comment sent upstream for ${JSON.stringify(r.sql)}: ${sent}`).toEqual([]);
      const analyzed = (r.decision!.tables ?? []).slice().sort();
      expect(await tablesRead(sent), `tables read by the emulator for ${JSON.stringify(r.sql)} (sent: ${sent})`).toEqual(analyzed);
    }
  }, 600_000);
});
