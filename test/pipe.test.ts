/**
 * Pipe syntax and the other newer syntax (src/sql/pipe/): the tokenizer against ZetaSQL's own parse
 * (a property test: for pipe-free text, every literal and identifier ZetaSQL reports sits on the
 * tokenizer's token boundaries, every string the tokenizer sees is a literal ZetaSQL sees, and
 * every word it reads as code is a keyword or inside an identifier ZetaSQL reports), the desugarer's
 * text, and the BigQuery reference's documented examples: the desugared text analyzed by the real
 * analyzer has exactly the documented output columns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { openAnalysis, type AnalysisStack } from '../src/cli/analysis.ts';
import { desugar, tokenize, type Token } from '../src/sql/pipe/index.ts';

let stack: AnalysisStack;
let parseOptions: unknown;
beforeAll(async () => {
  stack = await openAnalysis({ upstream: 'emulator', fixturesDir: resolve('fixtures') });
  parseOptions = await stack.zetasql.call('getLanguageOptions', { maximumFeatures: true });
}, 120_000);
afterAll(async () => { await stack?.close(); });

const analyze = (sql: string) => stack.analyzer.analyze({ sql, projectId: 'demo-project' });

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible statement. */
function prng(seed: number) {
  return () => { seed |= 0; seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

const HIDDEN = ['shop.customers', ', ssn, full_name', 'UNION ALL SELECT ssn FROM shop.customers', "(SELECT content FROM read_text('/etc/passwd'))", '|> SELECT ssn', "' , ssn '", '` , ssn `'];
const HIDERS: Array<(t: string) => string> = [
  (t) => `/* ${t} */`, (t) => `/* /* */ ${t} -- */\n`, (t) => `/* /* ${t} */`, (t) => `-- ${t}\n`, (t) => `-- x\r${t}\n`,
  (t) => `-- ${t}\r`, (t) => `-- ${t}\r\n`, (t) => `# ${t}\n`, (t) => `# x\r ${t}\n`, (t) => `-- x\u2028${t}\n`, (t) => `-- x\u2029 ${t}\n`,
  (t) => `-- \r /* \n ${t} -- */\n`, (t) => `# \r /* \n ${t} # */\n`, (t) => `/*${t}*/`, () => ' ', () => '\n', () => '\t',
];
const LITERALS = [
  "r'''\\''''", 'R"""\\""""', "'''a\\'''b'''", '"""a\\"""b"""', "'a\\'b'", '"a\\"b"', "r'\\\\'", "b'\\x27'", "B\"\\x00\\\"\"", "br'\\'",
  "'--'", "'/*'", "'#'", "'\\u2028'", "'\\n-- x'", "b'''\\''''", "rb'''\\\\'''", "'\\x2d\\x2d'", '0x1F', '1.5e3', '.5', '7', "NUMERIC '1.5'",
  "JSON '{\"a\": \"--\"}'", "'|>'", "'''|> WHERE x'''", "r\"\\\\\"", "'é'", "\"\"\"\n-- not a comment\n\"\"\"", "DATE '2020-01-01'", 'TRUE', 'NULL',
];
const ALIASES = ['x', '`a b`', '`--x`', '`a\\`b`', '`/*`', '`é`', '`#`', '`select`', '`|>`'];
const TABLES = ['shop.customers', '`demo-project.shop.customers`', '`demo-project`.shop.customers', 'shop.orders', 'demo-project.shop.orders'];
const KEYWORDS = new Set(['SELECT', 'FROM', 'AS', 'WHERE', 'LIMIT', 'NUMERIC', 'JSON', 'DATE', 'TRUE', 'NULL', 'AND', 'OR', 'UNION', 'ALL', 'DISTINCT']);

function statement(rand: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const noise = () => (rand() < 0.6 ? pick(HIDERS)(pick(HIDDEN)) : pick([' ', '\n', '  ']));
  const items = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i) => (rand() < 0.4 ? pick(['customer_id', 'email', 'c.customer_id']) : `${pick(LITERALS)} AS ${i === 0 ? pick(ALIASES) : `l${i}`}`));
  const where = rand() < 0.4 ? ` WHERE${noise()}customer_id > ${Math.floor(rand() * 5)}` : '';
  return `SELECT${noise()}${[...new Set(items)].join(`,${noise()}`)}${noise()}FROM${noise()}${pick(TABLES)} AS c${noise()}${where} LIMIT ${1 + Math.floor(rand() * 5)}${noise()}`;
}

/** ZetaSQL's parse leaves: identifiers and literals, as byte ranges (and the literal's image). */
function leaves(node: unknown, out: Array<{ start: number; end: number; image?: string }> = []) {
  if (!node || typeof node !== 'object') return out;
  if (Array.isArray(node)) { node.forEach((x) => leaves(x, out)); return out; }
  const o = node as Record<string, any>;
  const loc = (n: any): [number, number] | undefined => {
    for (let p = n; p && typeof p === 'object'; p = p.parent) if (p.parseLocationRange) return [Number(p.parseLocationRange.start ?? 0), Number(p.parseLocationRange.end ?? 0)];
    return undefined;
  };
  if (typeof o.idString === 'string') { const l = loc(o); if (l) out.push({ start: l[0], end: l[1] }); return out; }
  if (o.parent && typeof o.parent === 'object' && typeof o.parent.image === 'string') { const l = loc(o); if (l) out.push({ start: l[0], end: l[1], image: o.parent.image }); return out; }
  Object.values(o).forEach((x) => leaves(x, out));
  return out;
}

describe('tokenizer', () => {
  it('reads every literal, comment and operator form', () => {
    const kinds = (s: string) => tokenize(s).map((t) => `${t.kind}:${t.text}`);
    expect(kinds("SELECT r'\\'' -- c\r, x")).toEqual(['word:SELECT', "string:r'\\''", 'op:,', 'word:x']);
    expect(kinds('SELECT 1 /* a /* b */ , 2')).toEqual(['word:SELECT', 'number:1', 'op:,', 'number:2']);
    expect(kinds("FROM t|>WHERE x>=1 # c\n AND @p = @@time_zone")).toEqual(['word:FROM', 'word:t', 'op:|>', 'word:WHERE', 'word:x', 'op:>=', 'number:1', 'word:AND', 'param:@p', 'op:=', 'param:@@time_zone']);
    expect(kinds("SELECT '''a''b''' , b\"\\x00\", rb'x', `a\\`b`")).toEqual(['word:SELECT', "string:'''a''b'''", 'op:,', 'bytes:b"\\x00"', 'op:,', "bytes:rb'x'", 'op:,', 'quoted:`a\\`b`']);
    expect(kinds('SELECT 1.5e3, .5, 0x1F')).toEqual(['word:SELECT', 'number:1.5e3', 'op:,', 'number:.5', 'op:,', 'number:0x1F']);
    expect(kinds('SELECT (x)\n.5, t.1')).toEqual(['word:SELECT', '(', 'word:x', 'op:)', 'op:.', 'number:5', 'op:,', 'word:t', 'op:.', 'number:1'].map((k) => (k === '(' ? 'op:(' : k)));
    expect(kinds('SELECT 1 -- x\u2028, 2')).toEqual(['word:SELECT', 'number:1']);
  });

  it.each(["SELECT 'a", 'SELECT """a', 'SELECT 1 /* x', 'SELECT `a', "SELECT 'a\nb'", 'SELECT 1 \u2028', 'SELECT 1 \ufeff', 'SELECT $x', 'SELECT `a\nb`'])('refuses %j', (s) => {
    expect(() => tokenize(s)).toThrow(expect.objectContaining({ reason: 'invalidQuery' }));
  });

  it('reads exactly the whitespace characters ZetaSQL reads as whitespace', async () => {
    // Every space-like code point (Unicode White_Space, and the zero-width ones ZetaSQL names): whether
    // ZetaSQL's parser takes `SELECT 1<c>AS x`, against whether the tokenizer skips <c>.
    const candidates = [0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x180e, ...Array.from({ length: 12 }, (_, k) => 0x2000 + k), 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff];
    const zeta: number[] = [];
    const ours: number[] = [];
    for (const cp of candidates) {
      const sql = `SELECT 1${String.fromCodePoint(cp)}AS x`;
      if (await stack.zetasql.call('parse', { sqlStatement: sql, options: parseOptions }).then(() => true, () => false)) zeta.push(cp);
      if ((() => { try { return tokenize(sql).map((t) => t.text).join(' ') === 'SELECT 1 AS x'; } catch { return false; } })()) ours.push(cp);
    }
    console.log(`whitespace: ZetaSQL takes ${zeta.length} of ${candidates.length} candidates (${zeta.map((c) => c.toString(16)).join(' ')})`);
    expect(ours).toEqual(zeta);
    expect(zeta).toContain(0xa0);
  });

  it('agrees with ZetaSQL on 600 generated pipe-free statements', async () => {
    const rand = prng(17);
    let parsed = 0;
    for (let n = 0; n < 600; n++) {
      const sql = statement(rand);
      let tree: unknown;
      try { tree = (await stack.zetasql.call('parse', { sqlStatement: sql, options: parseOptions })).parsedStatement; } catch { continue; }
      parsed++;
      const bytes = (i: number) => Buffer.byteLength(sql.slice(0, i), 'utf8');
      let toks: Token[];
      try { toks = tokenize(sql); } catch (err) { throw new Error(`tokenizer refused what ZetaSQL parsed: ${JSON.stringify(sql)}: ${(err as Error).message}`); }
      const t = toks.map((x) => ({ ...x, s: bytes(x.start), e: bytes(x.end) }));
      const ls = leaves(tree);
      const starts = new Set(t.map((x) => x.s));
      const ends = new Set(t.map((x) => x.e));
      for (const l of ls) {
        expect(starts.has(l.start) && ends.has(l.end), `leaf ${sql.slice(0, 0)}[${l.start},${l.end}) of ${JSON.stringify(sql)}`).toBe(true);
      }
      for (const x of t) {
        const inLeaf = ls.find((l) => l.start <= x.s && x.e <= l.end);
        if (x.kind === 'string' || x.kind === 'bytes') expect(inLeaf?.image, `string token ${x.text} of ${JSON.stringify(sql)}`).toBe(x.text);
        else if (x.kind === 'quoted' || x.kind === 'number') expect(inLeaf, `${x.kind} token ${x.text} of ${JSON.stringify(sql)}`).toBeDefined();
        else if (x.kind === 'word' && !KEYWORDS.has(x.upper!)) expect(inLeaf, `word ${x.text} of ${JSON.stringify(sql)}`).toBeDefined();
      }
    }
    console.log(`tokenizer property test: ${parsed} of 600 generated statements parsed by ZetaSQL, all agreeing`);
    expect(parsed).toBeGreaterThan(250);
  }, 120_000);
});

describe('desugarer', () => {
  it('leaves standard syntax alone and ignores pipes in strings and comments', async () => {
    for (const s of ['SELECT 1', "SELECT '|> WHERE' AS s FROM shop.orders", 'SELECT 1 -- FROM x |> y', 'SELECT a FROM t UNION ALL SELECT b FROM u', 'DELETE FROM t WHERE TRUE', 'LOAD DATA INTO d.t FROM FILES (format = \'CSV\') WITH PARTITION COLUMNS', 'SELECT x FROM UNNEST([1]) AS x WITH OFFSET']) {
      expect(await desugar(s), s).toBeUndefined();
    }
  });

  it.each([
    ['FROM t |> WHERE x > 1', 'SELECT * FROM t WHERE (x > 1)'],
    ['FROM t AS a JOIN u AS b USING (k) |> WHERE a.x = 1 |> AGGREGATE SUM(b.v) AS s GROUP BY a.k', 'SELECT a.k, SUM(b.v) AS s FROM t AS a JOIN u AS b USING (k) WHERE (a.x = 1) GROUP BY 1'],
    ['FROM t |> ORDER BY x |> LIMIT 3 OFFSET 1', 'SELECT * FROM t ORDER BY x LIMIT 3 OFFSET 1'],
    ['FROM t |> AGGREGATE COUNT(*) AS n DESC GROUP BY a, b ASC', 'SELECT a, b, COUNT(*) AS n FROM t GROUP BY 1, 2 ORDER BY 2 ASC, 3 DESC'],
    ['FROM t |> AGGREGATE COUNT(*) GROUP AND ORDER BY a, b DESC NULLS LAST', 'SELECT a, b, COUNT(*) FROM t GROUP BY 1, 2 ORDER BY 1 ASC, 2 DESC NULLS LAST'],
    ['FROM t |> SET x = 1 |> DROP y', 'SELECT * EXCEPT (y) FROM (SELECT * REPLACE (1 AS x) FROM t)'],
    ['FROM t |> WHERE ROW_NUMBER() OVER (PARTITION BY a) = 1', 'SELECT * FROM t WHERE (TRUE) QUALIFY (ROW_NUMBER() OVER (PARTITION BY a) = 1)'],
    ['SELECT 1 AS k |> WITH w AS (SELECT 1 AS k) |> JOIN w USING (k)', 'WITH w AS (SELECT 1 AS k) SELECT * FROM (SELECT 1 AS k) JOIN w USING (k)'],
    ['FROM t |> CALL f(1) AS r', 'SELECT * FROM f((SELECT * FROM t), 1) AS r'],
    ['FROM t |> CALL ML.PREDICT(MODEL m)', 'SELECT * FROM ML.PREDICT(MODEL m, (SELECT * FROM t))'],
    ['SELECT x FROM t |> UNION ALL (SELECT 1), (SELECT 2)', '(SELECT x FROM t) UNION ALL (SELECT 1) UNION ALL (SELECT 2)'],
    ['SELECT * FROM (FROM t |> DISTINCT)', 'SELECT * FROM (SELECT DISTINCT * FROM t)'],
    ['SELECT (x).UPPER().SUBSTR(1, 2) AS y', 'SELECT SUBSTR(UPPER((x)), 1, 2) AS y'],
    ["SELECT 'a b'.REPLACE('a', 'c')", "SELECT REPLACE('a b', 'a', 'c')"],
    ['SELECT a, b, SUM(c) AS s, COUNT(*) OVER () AS w FROM t GROUP BY ALL', 'SELECT a, b, SUM(c) AS s, COUNT(*) OVER () AS w FROM t GROUP BY 1, 2'],
    ['SELECT a FROM t UNION ALL BY NAME SELECT a FROM u', 'SELECT a FROM t UNION ALL CORRESPONDING SELECT a FROM u'],
    // a GROUP BY key spelled as an aliased select item becomes its ordinal (this ZetaSQL build refuses it before ORDER BY / HAVING)
    ['SELECT y + 1 z FROM x GROUP BY y + 1 ORDER BY z', 'SELECT y + 1 z FROM x GROUP BY 1 ORDER BY z'],
    // multi-level aggregation: two levels of GROUP BY (multilevel.ts)
    ['SELECT p, AVG(SUM(r) GROUP BY DATE(t)) AS a FROM s GROUP BY p ORDER BY p', 'SELECT p, AVG(__bqgate_ml_1) AS a FROM (SELECT p, SUM(r) AS __bqgate_ml_1 FROM s GROUP BY p, DATE(t)) GROUP BY p ORDER BY p'],
    ["SELECT AVG(ANY_VALUE(s) GROUP BY e) AS a FROM x JOIN y USING (e) WHERE r = 'C'", "SELECT AVG(__bqgate_ml_1) AS a FROM (SELECT ANY_VALUE(s) AS __bqgate_ml_1 FROM x JOIN y USING (e) WHERE r = 'C' GROUP BY e)"],
    ['SELECT k, MAX(AVG(x) GROUP BY g) * 2 AS m, COUNT(DISTINCT MIN(y) GROUP BY g) n FROM t GROUP BY k LIMIT 3', 'SELECT k, MAX(__bqgate_ml_1) * 2 AS m, COUNT(DISTINCT __bqgate_ml_2) n FROM (SELECT k, AVG(x) AS __bqgate_ml_1, MIN(y) AS __bqgate_ml_2 FROM t GROUP BY k, g) GROUP BY k LIMIT 3'],
    // a pipe AGGREGATE groups its own input, not the select list before the pipe (its own desugaring writes the ordinal)
    ['SELECT UPPER(s) AS u FROM t |> AGGREGATE COUNT(*) GROUP BY UPPER(s)', 'SELECT UPPER(s), COUNT(*) FROM (SELECT UPPER(s) AS u FROM t) GROUP BY 1'],
    ['SELECT a, DATE(ts) AS d, COUNT(*) AS n FROM t GROUP BY a, date( TS ) HAVING n > 1 ORDER BY d', 'SELECT a, DATE(ts) AS d, COUNT(*) AS n FROM t GROUP BY a, 2 HAVING n > 1 ORDER BY d'],
    ['SELECT * FROM (SELECT UPPER(s) AS u FROM t GROUP BY UPPER(s) ORDER BY u)', 'SELECT * FROM (SELECT UPPER(s) AS u FROM t GROUP BY 1 ORDER BY u)'],
    ['SELECT a FROM t FULL OUTER UNION ALL BY NAME SELECT a FROM u', 'SELECT a FROM t FULL UNION ALL CORRESPONDING SELECT a FROM u'],
    ['SELECT a FROM t INNER UNION ALL BY NAME SELECT a FROM u', 'SELECT a FROM t UNION ALL CORRESPONDING SELECT a FROM u'],
    ['SELECT a FROM t OUTER UNION ALL BY NAME SELECT a FROM u', 'SELECT a FROM t FULL UNION ALL CORRESPONDING SELECT a FROM u'],
    ['SELECT a FROM t LEFT OUTER UNION ALL CORRESPONDING SELECT a FROM u', 'SELECT a FROM t LEFT UNION ALL CORRESPONDING SELECT a FROM u'],
    ['SELECT a FROM t UNION ALL STRICT CORRESPONDING SELECT a FROM u', 'SELECT a FROM t UNION ALL CORRESPONDING SELECT a FROM u'],
    ['SELECT a, b FROM t FULL UNION ALL BY NAME ON (b, a) SELECT a FROM u', 'SELECT __bqgate_by_name.b, __bqgate_by_name.a FROM (SELECT a, b FROM t FULL UNION ALL CORRESPONDING SELECT a FROM u) AS __bqgate_by_name'],
    ['SELECT * FROM (SELECT a FROM t LEFT UNION ALL CORRESPONDING BY (a) SELECT a FROM u)', 'SELECT * FROM (SELECT __bqgate_by_name.a FROM (SELECT a FROM t LEFT UNION ALL CORRESPONDING SELECT a FROM u) AS __bqgate_by_name)'],
    ['WITH q AS (SELECT 1 AS a) SELECT a FROM q UNION ALL BY NAME ON (a) SELECT a FROM u ORDER BY a', 'WITH q AS (SELECT 1 AS a) (SELECT __bqgate_by_name.a FROM (SELECT a FROM q UNION ALL CORRESPONDING SELECT a FROM u) AS __bqgate_by_name) ORDER BY a'],
    ['SELECT a FROM t |> INTERSECT DISTINCT BY NAME ON (a) (SELECT a FROM u), (SELECT a FROM v)', 'SELECT __bqgate_by_name.a FROM ((SELECT a FROM t) INTERSECT DISTINCT CORRESPONDING (SELECT a FROM u) INTERSECT DISTINCT CORRESPONDING (SELECT a FROM v)) AS __bqgate_by_name'],
    ['CREATE TABLE d.x AS FROM t |> WHERE a', 'CREATE TABLE d.x AS SELECT * FROM t WHERE (a)'],
    ['WITH a AS (FROM t |> SELECT x) FROM a', 'WITH a AS (SELECT x FROM t) SELECT * FROM a'],
    ['FROM t; FROM u |> LIMIT 1;', 'SELECT * FROM t; SELECT * FROM u LIMIT 1;'],
    ['FROM t |> WHERE a = ? |> LIMIT 5', 'SELECT * FROM t WHERE (a = ?) LIMIT 5'],
    ['FROM t |> SELECT a + ? AS x |> WHERE x > ?', 'SELECT * FROM (SELECT a + ? AS x FROM t) WHERE (x > ?)'],
    ["FROM t |> WHERE s = '?' |> SELECT a, ?", "SELECT a, ? FROM t WHERE (s = '?')"],
  ])('%s', async (sql, want) => {
    expect(await desugar(sql)).toBe(want);
  });

  it.each([
    'SELECT UPPER(s) FROM t GROUP BY UPPER(s) ORDER BY 1', // no alias: this build analyzes it as written
    'SELECT a + 1 AS a FROM t GROUP BY a + 1 ORDER BY a', // `a` in the key could be read as the alias
    "SELECT CONCAT(s, ?) AS c FROM t GROUP BY CONCAT(s, ?) ORDER BY c", // a parameter: each binds its own value
    'SELECT COUNT(*) AS n FROM t GROUP BY COUNT(*) ORDER BY n', // an aggregate item
    'SELECT s || (SELECT 1) AS c FROM t GROUP BY s || (SELECT 1) ORDER BY c', // a subquery
    'SELECT UPPER(s) AS u FROM t GROUP BY LOWER(s) ORDER BY u', // no item spelled so
  ])('leaves the GROUP BY of %s as written', async (sql) => {
    const out = await desugar(sql).catch(() => 'refused');
    expect(out === undefined || out === 'refused' || !/GROUP BY \d/.test(out)).toBe(true);
  });

  it.each([
    ['FROM t |> ASSERT x > 0', 'ASSERT'],
    ['FROM t |> AGGREGATE COUNT(*) GROUP BY ROLLUP (a, b)', 'ROLLUP'],
    ['SELECT * FROM (FROM t |> RENAME a AS b)', 'RENAME'],
    ['FROM t |> SET x', 'SET'],
    ['FROM t |> UNION ALL SELECT 1', 'parenthesized'],
    ['FROM t |> WHERE (x', 'missing'],
    [`FROM t${' |> WHERE TRUE'.repeat(41)}`, 'more than the 40'],
    // the select list is written before WHERE, the grouping keys before the aggregates: `?` would bind out of order
    ['FROM t |> WHERE a = ? |> SELECT b + ?', 'positional query parameters'],
    ['FROM t |> AGGREGATE SUM(x) + ? AS s GROUP BY y + ?', 'positional query parameters'],
    ['FROM t |> JOIN u ON u.k = ? |> WHERE a = ? |> SELECT ? AS p', 'positional query parameters'],
    ['FROM t |> WHERE a = @__bqgate_positional_1', 'reserves'],
    ['SELECT a FROM t INNER UNION DISTINCT BY NAME ON (a) SELECT a FROM u', 'deduplicates on the listed columns'],
    ['SELECT a FROM t FULL EXCEPT ALL CORRESPONDING BY (a) SELECT a FROM u', 'deduplicates on the listed columns'],
    ['SELECT a FROM t UNION ALL BY NAME ON (a, `A`) SELECT a FROM u', 'Duplicate identifiers are not allowed in the BY NAME ON list: a'],
    ['SELECT a FROM t UNION ALL BY NAME SELECT a FROM u UNION ALL SELECT a FROM v', 'parentheses'],
    ['SELECT a FROM t UNION ALL BY NAME SELECT a FROM u UNION ALL CORRESPONDING SELECT a FROM v', 'parentheses'],
    ['SELECT __bqgate_by_name FROM t UNION ALL BY NAME ON (a) SELECT a FROM u', 'reserves'],
    ['SELECT k, SUM(x) + AVG(MAX(x) GROUP BY g) FROM t GROUP BY k', 'not one of the query\'s GROUP BY columns'],
    ['SELECT AVG(SUM(x) GROUP BY g) FROM t GROUP BY k HAVING COUNT(*) > 1', 'HAVING'],
    ['SELECT AVG(SUM(x) GROUP BY g), MAX(MIN(x) GROUP BY h) FROM t', 'different keys'],
    ['SELECT AVG(SUM(x) GROUP BY g) FROM t GROUP BY k + 1', 'column names'],
    ['SELECT AVG(SUM(x) GROUP BY g) FROM t UNION ALL SELECT 1', 'set operation'],
    ['SELECT ARRAY_AGG(SUM(x) GROUP BY g ORDER BY g) FROM t', 'ORDER BY'],
  ])('refuses %s', async (sql, why) => {
    await expect(desugar(sql)).rejects.toMatchObject({ reason: 'invalidQuery', message: expect.stringContaining(why) });
  });
});

/** The `Produce` table of the reference's examples, as a CTE. */
const PRODUCE = "WITH Produce AS (SELECT 'apples' AS item, 2 AS sales, 'fruit' AS category UNION ALL SELECT 'carrots', 8, 'vegetable' UNION ALL SELECT 'apples', 7, 'fruit' UNION ALL SELECT 'bananas', 5, 'fruit') ";
const THREE = "(SELECT 'apples' AS item, 2 AS sales UNION ALL SELECT 'bananas' AS item, 5 AS sales UNION ALL SELECT 'apples' AS item, 7 AS sales)";

/**
 * Examples of the BigQuery "Pipe query syntax" reference
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/pipe-syntax), with the output
 * columns its result tables show.
 */
const DOCUMENTED: Array<[string, string[]]> = [
  [`${PRODUCE}FROM Produce |> WHERE item != 'bananas' AND category IN ('fruit', 'nut') |> AGGREGATE COUNT(*) AS num_items, SUM(sales) AS total_sales GROUP BY item |> ORDER BY item DESC`, ['item', 'num_items', 'total_sales']],
  [`${PRODUCE}FROM Produce`, ['item', 'sales', 'category']],
  [`${PRODUCE}FROM Produce AS p1 JOIN Produce AS p2 USING (item) |> WHERE item = 'bananas' |> SELECT p1.item, p2.sales`, ['item', 'sales']],
  ["FROM (SELECT 'apples' AS item, 2 AS sales) |> SELECT item AS fruit_name", ['fruit_name']],
  [`${PRODUCE}FROM Produce |> SELECT item, sales, category, SUM(sales) OVER item_window AS category_total WINDOW item_window AS (PARTITION BY category)`, ['item', 'sales', 'category', 'category_total']],
  ["(SELECT 'apples' AS item, 2 AS sales UNION ALL SELECT 'bananas' AS item, 8 AS sales) |> EXTEND item IN ('bananas', 'lemons') AS is_yellow", ['item', 'sales', 'is_yellow']],
  [`${THREE} |> EXTEND SUM(sales) OVER() AS total_sales`, ['item', 'sales', 'total_sales']],
  ['(SELECT 1 AS x, 11 AS y UNION ALL SELECT 2 AS x, 22 AS y) |> SET x = x * x, y = 3', ['x', 'y']],
  ["SELECT 'apples' AS item, 2 AS sales, 'fruit' AS category |> DROP sales, category", ['item']],
  [`(SELECT "000123" AS id, "apples" AS item, 2 AS sales UNION ALL SELECT "000456" AS id, "bananas" AS item, 5 AS sales) AS sales_table |> AGGREGATE SUM(sales) AS total_sales GROUP BY id, item |> AS t1 |> JOIN (SELECT 456 AS id, "yellow" AS color) AS t2 ON CAST(t1.id AS INT64) = t2.id |> SELECT t2.id, total_sales, color`, ['id', 'total_sales', 'color']],
  [`${THREE} |> WHERE sales >= 3`, ['item', 'sales']],
  [`${THREE} |> AGGREGATE COUNT(*) AS num_items, SUM(sales) AS total_sales`, ['num_items', 'total_sales']],
  [`${THREE} |> AGGREGATE COUNT(*) AS num_items, SUM(sales) AS total_sales GROUP BY item`, ['item', 'num_items', 'total_sales']],
  [`${PRODUCE}FROM Produce |> AGGREGATE SUM(sales) AS total_sales GROUP AND ORDER BY category, item DESC`, ['category', 'item', 'total_sales']],
  [`${PRODUCE}FROM Produce |> AGGREGATE SUM(sales) AS total_sales ASC GROUP BY item, category DESC`, ['item', 'category', 'total_sales']],
  [`${THREE} |> DISTINCT |> WHERE sales >= 3`, ['item', 'sales']],
  [`(SELECT 'apples' AS item, 2 AS sales UNION ALL SELECT 'bananas' AS item, 5 AS sales) |> AS produce_sales |> LEFT JOIN (SELECT "apples" AS item, 123 AS id) AS produce_data ON produce_sales.item = produce_data.item |> SELECT produce_sales.item, sales, id`, ['item', 'sales', 'id']],
  ['(SELECT 1 AS x UNION ALL SELECT 3 AS x UNION ALL SELECT 2 AS x) |> ORDER BY x DESC', ['x']],
  [`${THREE} |> ORDER BY item |> LIMIT 1 OFFSET 2`, ['item', 'sales']],
  ['SELECT * FROM UNNEST(ARRAY<INT64>[1, 2, 3]) AS number |> UNION DISTINCT (SELECT 1), (SELECT 2)', ['number']],
  ['SELECT 1 AS one_digit, 10 AS two_digit |> UNION ALL BY NAME (SELECT 20 AS two_digit, 2 AS one_digit)', ['one_digit', 'two_digit']],
  ['SELECT * FROM UNNEST(ARRAY<INT64>[1, 2, 3, 3, 4]) AS number |> EXCEPT DISTINCT (SELECT * FROM UNNEST(ARRAY<INT64>[1, 2]) AS number |> EXCEPT DISTINCT (SELECT * FROM UNNEST(ARRAY<INT64>[1, 4]) AS number))', ['number']],
  ["SELECT 1 AS key |> WITH t AS (SELECT 1 AS key, 'my_value' AS value) |> INNER JOIN t USING (key)", ['key', 'value']],
  ["(SELECT 'kale' as product, 55 AS Q1, 45 AS Q2 UNION ALL SELECT 'apple', 8, 10) |> UNPIVOT(sales FOR quarter IN (Q1, Q2))", ['product', 'sales', 'quarter']],
  ['SELECT 1 AS x, 2 AS y, 3 AS z |> RENAME y AS renamed_y', ['x', 'renamed_y', 'z']],
];

/**
 * Examples of the BigQuery "Set operators" reference, BY NAME or CORRESPONDING
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#corresponding), with
 * the output columns its result tables show (setops.ts).
 */
const THREE_FOUR = ['SELECT 1 AS one_digit, 10 AS two_digit, 100 AS three_digit', 'SELECT 20 AS two_digit, 2 AS one_digit, 1000 AS four_digit'];
const SET_DOCUMENTED: Array<[string, string[]]> = [
  ['SELECT 1 AS one_digit, 10 AS two_digit UNION ALL BY NAME SELECT 20 AS two_digit, 2 AS one_digit', ['one_digit', 'two_digit']],
  ['SELECT 1 AS one_digit, 10 AS two_digit UNION ALL STRICT CORRESPONDING SELECT 20 AS two_digit, 2 AS one_digit', ['one_digit', 'two_digit']],
  [THREE_FOUR.join(' INNER UNION ALL BY NAME '), ['one_digit', 'two_digit']],
  [THREE_FOUR.join(' FULL OUTER UNION ALL BY NAME '), ['one_digit', 'two_digit', 'three_digit', 'four_digit']],
  [THREE_FOUR.join(' LEFT OUTER UNION ALL BY NAME '), ['one_digit', 'two_digit', 'three_digit']],
  [THREE_FOUR.join(' FULL OUTER UNION ALL BY NAME ON (three_digit, two_digit) '), ['three_digit', 'two_digit']],
  [THREE_FOUR.join(' FULL OUTER UNION ALL CORRESPONDING BY (three_digit, two_digit) '), ['three_digit', 'two_digit']],
  [THREE_FOUR.join(' OUTER UNION ALL CORRESPONDING '), ['one_digit', 'two_digit', 'three_digit', 'four_digit']],
  ['SELECT * FROM UNNEST(ARRAY<INT64>[1, 2, 3, 3, 4]) AS number INTERSECT DISTINCT BY NAME SELECT * FROM UNNEST(ARRAY<INT64>[2, 3, 3, 5]) AS number', ['number']],
  ['SELECT 1 AS one_digit, 10 AS two_digit |> UNION ALL BY NAME ON (two_digit, one_digit) (SELECT 20 AS two_digit, 2 AS one_digit)', ['two_digit', 'one_digit']],
];
/** What the reference says BigQuery rejects: inputs with different column names without a mode, a list that is not each input's columns in STRICT mode. */
const SET_REJECTED: Array<[string, string]> = [
  [THREE_FOUR.join(' UNION ALL BY NAME '), 'BY NAME requires all input queries to have identical column names'],
  [THREE_FOUR.join(' UNION ALL STRICT CORRESPONDING '), 'STRICT CORRESPONDING requires all input queries to have identical column names'],
  [THREE_FOUR.join(' UNION ALL BY NAME ON (one_digit, two_digit) '), 'must share the same set of column names as the ON list'],
  ['SELECT 1 AS a, 2 AS b UNION ALL STRICT CORRESPONDING BY (a, b) SELECT 1 AS b, 2 AS a, 3 AS c', 'must share the same set of column names as the BY list'],
  ['WITH q AS (SELECT 1 AS a, 2 AS b) SELECT a, b FROM q EXCEPT DISTINCT BY NAME SELECT 1 AS a', 'BY NAME requires'],
  ['SELECT 1 AS a; SELECT 1 AS a, 2 AS b |> UNION ALL BY NAME (SELECT 1 AS b, 2 AS a), (SELECT 1 AS a)', 'BY NAME requires'],
  [THREE_FOUR.join(' LEFT UNION ALL BY NAME ON (four_digit) '), 'The column name four_digit from the BY NAME ON'],
  ['SELECT 1 AS x UNION ALL CORRESPONDING BY (foo, bar) SELECT 2 AS x', 'The column name foo from the BY NAME ON (CORRESPONDING BY) list does not appear'],
];

/**
 * Documented examples that reference a table alias after SET, DROP, RENAME or DISTINCT (the alias
 * keeps the original row); the desugarer closes the alias there, so the analyzer refuses them.
 */
const ALIAS_AFTER_PROJECTION = [
  'FROM (SELECT 2 AS x, 3 AS y) AS t |> SET x = x * x, y = 8 |> SELECT t.x AS original_x, x, y',
  'FROM (SELECT 1 AS x, 2 AS y) AS t |> DROP x |> SELECT t.x AS original_x, y',
];

describe('documented examples', () => {
  it.each(DOCUMENTED)('%s', async (sql, columns) => {
    const a = await analyze(sql);
    expect(a.outputColumns).toEqual(columns);
    expect(a.effectiveSql).not.toContain('|>');
  });

  it.each(SET_DOCUMENTED)('set operation by name: %s', async (sql, columns) => {
    const a = await analyze(sql);
    expect(a.outputColumns).toEqual(columns);
    expect(a.effectiveSql).not.toMatch(/BY NAME|STRICT|OUTER/);
  });

  it.each(SET_REJECTED)('refuses what BigQuery rejects: %s', async (sql, why) => {
    await expect(analyze(sql)).rejects.toMatchObject({ reason: 'invalidQuery', message: expect.stringContaining(why) });
  });

  it.each(ALIAS_AFTER_PROJECTION)('refuses (alias kept through a projection) %s', async (sql) => {
    await expect(analyze(sql)).rejects.toMatchObject({ reason: 'invalidQuery' });
  });

  it('reads an unquoted dashed project as one name only where ZetaSQL does, and sends it quoted', async () => {
    // ZetaSQL (FEATURE_ALLOW_DASHES_IN_TABLE_NAME, BigQuery's lexical rules) takes dashes in the first part of a
    // table path only; every other `-` is minus. The text sent upstream (regenerate) quotes the name.
    for (const sql of ['SELECT order_id, amount-1 AS a FROM demo-project.shop.orders WHERE customer_id-1 = 0', 'FROM demo-project.shop.orders |> EXTEND amount-1 AS a |> WHERE customer_id-1 = 0 |> SELECT order_id, a']) {
      const a = await analyze(sql);
      expect(a.tablesRead).toEqual(['demo-project.shop.orders']);
      expect(a.lineage.find((l) => l.name === 'a')).toMatchObject({ direct: false, sources: [{ table: 'demo-project.shop.orders', column: 'amount' }] });
      expect(a.columnsByClause.where).toEqual([{ table: 'demo-project.shop.orders', column: 'customer_id' }]);
      const out = await stack.analyzer.regenerate({ sql: a.effectiveSql, projectId: 'demo-project' }, a);
      expect(out.sql).toContain('`demo-project`.shop.orders');
      expect(out.sql).toMatch(/amount-1 AS a/);
    }
    for (const sql of ['SELECT * FROM demo-project.shop.orders-x', 'SELECT order_id FROM demo - project.shop.orders', 'SELECT * FROM project-a.dataset-b.table-c', 'SELECT * FROM a-1a.b.c']) {
      await expect(analyze(sql), sql).rejects.toMatchObject({ reason: 'invalidQuery' });
    }
  });

  it('analyzes the desugared text: scans are positioned in effectiveSql', async () => {
    const a = await analyze('FROM shop.orders -- a comment\n|> WHERE amount > 10 |> SELECT order_id');
    expect(a.effectiveSql).toBe('SELECT order_id FROM shop.orders WHERE (amount > 10)');
    const s = a.scans[0];
    expect(Buffer.from(a.effectiveSql).subarray(s.start!, s.end!).toString()).toBe('shop.orders');
  });
});
