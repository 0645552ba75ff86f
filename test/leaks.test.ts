/**
 * Leak attempts (DESIGN.md hazards) through the real SDK and `bq` against the demo data and policy.
 * Each query must be refused, or answered with masked values only: every delivered cell is checked
 * against the raw fixture values read straight from the emulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRequests, startGateway, type TestGateway } from './helpers/gateway.ts';

let gw: TestGateway;
let analyst: string;
let support: string;
let raw: Array<{ customer_id: number; email: string; full_name: string; card_number: string; ssn: string; birth_date: string; phone: string }>;

/** Strings whose appearance in a delivered cell is a leak, per principal. */
let analystSecrets: Set<string>;
let supportSecrets: Set<string>;
let analystGrams: Set<string>;
const phones = new Set<string>();
/** The id of a job another principal (support) ran, with the word `supportsecretjob` in its text (INFORMATION_SCHEMA.JOBS routes). */
let supportJobId: string;

beforeAll(async () => {
  gw = await startGateway();
  analyst = await gw.token({ sub: 'leak-analyst', groups: ['analysts'] });
  support = await gw.token({ sub: 'leak-support', groups: ['support'] });
  const [rows] = await gw.emulatorSdk().query({ query: 'SELECT customer_id, email, full_name, card_number, ssn, birth_date, phone FROM shop.customers', useLegacySql: false });
  // A dataset no analyst rule names (region-level INFORMATION_SCHEMA routes), another principal's job, and an
  // analyst job whose upstream text carries keyed-mask pads (FROM_HEX), for the JOBS routes.
  await gw.emulatorSdk().query({ query: 'CREATE SCHEMA IF NOT EXISTS `demo-project.hr_private`', useLegacySql: false });
  await gw.emulatorSdk().query({ query: 'CREATE TABLE IF NOT EXISTS `demo-project.hr_private.salaries` (employee STRING, salary INT64)', useLegacySql: false });
  const [job] = await gw.sdk(support).createQueryJob({ query: "SELECT 'supportsecretjob' AS m, email FROM shop.customers LIMIT 1", useLegacySql: false });
  await job.getQueryResults();
  supportJobId = job.id!;
  await gw.sdk(analyst).query({ query: 'SELECT phone FROM shop.customers LIMIT 1', useLegacySql: false });
  raw = rows.map((r: any) => ({ ...r, birth_date: r.birth_date.value }));
  const rev = (s: string) => [...s].reverse().join('');
  analystSecrets = new Set();
  supportSecrets = new Set();
  analystGrams = new Set();
  for (const r of raw) {
    for (const s of [r.email, rev(r.email), r.full_name, rev(r.full_name), r.card_number, rev(r.card_number), r.ssn, r.ssn.replace(/-/g, ''), r.phone]) analystSecrets.add(s);
    const local = r.email.split('@')[0];
    if (local.length >= 6 && /[g-z_.]/.test(local)) { analystSecrets.add(local); analystSecrets.add(rev(local)); }
    if (!r.birth_date.endsWith('-01-01')) analystSecrets.add(r.birth_date);
    for (let i = 0; i + 8 <= 12; i++) analystGrams.add(r.card_number.slice(i, i + 8));
    phones.add(r.phone.replace(/^\+/, ''));
    for (const s of [r.card_number, rev(r.card_number), r.ssn, r.ssn.replace(/-/g, '')]) supportSecrets.add(s);
  }
}, 180_000);
afterAll(async () => { await gw?.stop(); });

/** Every string in a delivered value, flattened. */
function strings(v: unknown, out: string[] = []): string[] {
  if (v === null || v === undefined) return out;
  if (typeof v === 'string') out.push(v);
  else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') out.push(String(v));
  else if (Buffer.isBuffer(v)) out.push(v.toString('utf8'), v.toString('hex'));
  else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
  else if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.value === 'string' && Object.keys(o).length <= 2) out.push(o.value);
    else Object.values(o).forEach((x) => strings(x, out));
  }
  return out;
}

/**
 * Raw values found in `text`: exact secrets as tokens or inside longer strings, secrets hidden in hex
 * (TO_HEX), and for analysts any 8-digit window of a card number's first twelve digits (prefix leaks
 * through SUBSTR/LEFT). Hashes (64 hex digits) and phone numbers (not protected) are not digit-scanned.
 */
function leaks(delivered: string, who: 'analyst' | 'support'): string[] {
  const secrets = who === 'analyst' ? analystSecrets : supportSecrets;
  const found = new Set<string>();
  // A mask's digest, and any piece of one (SUBSTR of a hashed column), is not a raw value: its hex
  // digits can happen to spell a card-number window or an SSN, so they are left out of the scan.
  const hashes = delivered.match(/\b[0-9a-f]{64}\b/g) ?? [];
  const text = delivered.replace(/\b[0-9a-f]{8,64}\b/g, (t) => (hashes.some((h) => h.includes(t)) ? ' ' : t));
  for (const s of secrets) if (s.length >= 9 && text.includes(s)) found.add(s);
  for (const token of text.split(/[^A-Za-z0-9@._+-]+/).filter(Boolean)) {
    if (secrets.has(token)) found.add(token);
    if (/^([0-9a-f]{2})+$/.test(token) && token.length >= 16 && token.length !== 64) {
      const decoded = Buffer.from(token, 'hex').toString('latin1');
      for (const s of secrets) if (s.length >= 4 && decoded.includes(s)) found.add(`hex:${s}`);
    }
    if (who !== 'analyst' || /^[0-9a-f]{64}$/.test(token) || phones.has(token.replace(/^\+/, ''))) continue;
    for (const m of token.matchAll(/\d{8,}/g)) {
      for (let i = 0; i + 8 <= m[0].length; i++) if (analystGrams.has(m[0].slice(i, i + 8))) found.add(m[0]);
    }
  }
  return [...found];
}

type Expect = 'refused' | 'masked' | 'empty' | 'zero';
/**
 * `emulatorGap`: valid GoogleSQL the DuckDB emulator cannot run yet (polyglot leaves PIVOT bodies,
 * WITH OFFSET and APPROX_TOP_COUNT untranslated); there an upstream invalidQuery is accepted, but
 * its message is still checked for leaks.
 */
/** `absent`: names (tables, columns) no delivered cell may contain as a word: what a metadata view must not reveal. */
/** `sent`: the gateway must have analyzed the statement and sent it upstream (an emulatorGap refusal by the gateway would not do). */
interface Case { name: string; sql: string; expect: Expect; who?: 'analyst' | 'support'; emulatorGap?: boolean; absent?: string[]; sent?: boolean }

const raw1 = () => raw.find((r) => r.customer_id === 1)!;
/** A customer whose email user is long enough not to occur inside a mask by chance. */
const longLocal = () => raw.find((r) => r.email.split('@')[0].length >= 8 && /[g-z]/.test(r.email.split('@')[0]))!;

const CASES: Array<Case | (() => Case)> = [
  // whole rows, JSON, FORMAT
  { name: 'TO_JSON_STRING of a row', sql: 'SELECT TO_JSON_STRING(c) FROM (SELECT * EXCEPT (ssn) FROM shop.customers) c LIMIT 50', expect: 'masked' },
  { name: "FORMAT('%T') of a row", sql: "SELECT FORMAT('%T', c) FROM (SELECT * EXCEPT (ssn) FROM shop.customers) c LIMIT 50", expect: 'masked' },
  { name: 'ARRAY_AGG of rows', sql: 'SELECT ARRAY_AGG(c) FROM (SELECT * EXCEPT (ssn) FROM shop.customers LIMIT 20) c', expect: 'masked' },
  { name: 'row as struct', sql: 'SELECT c FROM (SELECT email, card_number, full_name FROM shop.customers) c LIMIT 50', expect: 'masked' },
  { name: 'TO_JSON of a struct', sql: 'SELECT TO_JSON(STRUCT(email, full_name, card_number)) AS j FROM shop.customers LIMIT 50', expect: 'masked' },
  { name: 'TO_JSON_STRING of the whole table row', sql: 'SELECT TO_JSON_STRING(c) FROM shop.customers c LIMIT 1', expect: 'refused' },
  { name: "FORMAT('%t') of a row with ssn", sql: "SELECT FORMAT('%t', c) FROM shop.customers c LIMIT 1", expect: 'refused' },
  { name: 'SELECT *', sql: 'SELECT * FROM shop.customers LIMIT 1', expect: 'refused' },
  { name: 'SELECT * EXCEPT (ssn)', sql: 'SELECT * EXCEPT (ssn) FROM shop.customers LIMIT 50', expect: 'masked' },
  { name: 'SELECT * REPLACE', sql: 'SELECT * EXCEPT (ssn) REPLACE (LOWER(email) AS email) FROM shop.customers LIMIT 50', expect: 'masked' },
  { name: 'qualified star', sql: 'SELECT c.* EXCEPT (ssn), o.amount FROM shop.customers c JOIN shop.orders o USING (customer_id) LIMIT 50', expect: 'masked' },
  // CTEs and subqueries
  { name: 'CTE', sql: 'WITH x AS (SELECT email FROM shop.customers) SELECT * FROM x LIMIT 50', expect: 'masked' },
  { name: 'chained CTEs with renames', sql: 'WITH x AS (SELECT card_number AS n FROM shop.customers), y AS (SELECT n AS m FROM x) SELECT m FROM y LIMIT 50', expect: 'masked' },
  { name: 'scalar subquery', sql: 'SELECT (SELECT email FROM shop.customers WHERE customer_id = 1) AS e', expect: 'masked' },
  { name: 'correlated subquery', sql: 'SELECT o.order_id, (SELECT c.full_name FROM shop.customers c WHERE c.customer_id = o.customer_id) AS n FROM shop.orders o LIMIT 50', expect: 'masked' },
  { name: 'derived tables', sql: 'SELECT * FROM (SELECT full_name FROM (SELECT full_name, email FROM shop.customers)) LIMIT 50', expect: 'masked' },
  { name: 'IN subquery', sql: 'SELECT email FROM shop.customers WHERE customer_id IN (SELECT customer_id FROM shop.orders WHERE amount > 1000) LIMIT 50', expect: 'masked' },
  { name: 'ssn in a subquery predicate', sql: 'SELECT order_id FROM shop.orders WHERE customer_id IN (SELECT customer_id FROM shop.customers WHERE ssn LIKE "1%")', expect: 'refused' },
  { name: 'ssn in a CTE', sql: 'WITH s AS (SELECT ssn FROM shop.customers) SELECT COUNT(*) FROM s', expect: 'refused' },
  // set operations
  { name: 'UNION ALL', sql: "SELECT email FROM shop.customers UNION ALL SELECT 'x' LIMIT 50", expect: 'masked' },
  { name: 'UNION DISTINCT of two masked columns', sql: 'SELECT email AS v FROM shop.customers UNION DISTINCT SELECT full_name FROM shop.customers LIMIT 50', expect: 'masked' },
  { name: 'INTERSECT', sql: 'SELECT email FROM shop.customers INTERSECT DISTINCT SELECT email FROM shop.customers LIMIT 50', expect: 'masked' },
  { name: 'EXCEPT DISTINCT', sql: "SELECT card_number FROM shop.customers EXCEPT DISTINCT SELECT 'nothing' LIMIT 50", expect: 'masked' },
  { name: 'UNION ALL with ssn on one side', sql: 'SELECT email FROM shop.customers UNION ALL SELECT ssn FROM shop.customers', expect: 'refused' },
  // JOIN USING and self joins
  { name: 'JOIN USING a masked column', sql: 'SELECT email FROM shop.customers JOIN shop.customers c2 USING (email) LIMIT 50', expect: 'masked' },
  { name: 'JOIN USING with a derived side', sql: 'SELECT * FROM shop.orders JOIN (SELECT customer_id, email FROM shop.customers) USING (customer_id) LIMIT 50', expect: 'masked' },
  { name: 'self join', sql: 'SELECT a.email, b.card_number FROM shop.customers a JOIN shop.customers b ON a.customer_id = b.customer_id LIMIT 50', expect: 'masked' },
  { name: 'join on ssn', sql: 'SELECT c.customer_id FROM shop.customers c JOIN shop.orders o ON c.ssn = CAST(o.order_id AS STRING) LIMIT 1', expect: 'refused' },
  // UNNEST
  { name: 'UNNEST of masked values', sql: 'SELECT e FROM shop.customers, UNNEST([email, card_number, full_name]) e LIMIT 60', expect: 'masked' },
  { name: 'UNNEST WITH OFFSET of split email', sql: "SELECT STRING_AGG(ch, '' ORDER BY off) FROM shop.customers, UNNEST(SPLIT(email, '')) ch WITH OFFSET off WHERE customer_id = 1", expect: 'masked', emulatorGap: true },
  { name: 'UNNEST of an aggregated array', sql: 'SELECT x FROM UNNEST((SELECT ARRAY_AGG(full_name) FROM shop.customers)) x LIMIT 50', expect: 'masked' },
  { name: 'UNNEST of ssn', sql: 'SELECT x FROM UNNEST((SELECT ARRAY_AGG(ssn) FROM shop.customers)) x LIMIT 5', expect: 'refused' },
  { name: 'correlated UNNEST of tags', sql: 'SELECT t, email FROM shop.customers, UNNEST(tags) t LIMIT 50', expect: 'masked' },
  // PIVOT / UNPIVOT
  { name: 'PIVOT', sql: "SELECT * FROM (SELECT country, email FROM shop.customers) PIVOT (ANY_VALUE(email) FOR country IN ('US', 'DE'))", expect: 'masked', emulatorGap: true },
  { name: 'UNPIVOT', sql: 'SELECT * FROM (SELECT customer_id, email, card_number FROM shop.customers WHERE customer_id < 20) UNPIVOT (v FOR k IN (email, card_number))', expect: 'masked', emulatorGap: true },
  // views: read through, masked and denied like the tables underneath
  { name: 'view over customers', sql: 'SELECT email, full_name, phone FROM shop.customer_contacts LIMIT 50', expect: 'masked' },
  { name: 'ssn through a view', sql: 'SELECT ssn FROM shop.customer_contacts LIMIT 5', expect: 'refused' },
  { name: 'whole view row', sql: 'SELECT TO_JSON_STRING(v) FROM shop.customer_contacts v LIMIT 5', expect: 'refused' },
  { name: 'view row without ssn', sql: 'SELECT TO_JSON_STRING(v) FROM (SELECT * EXCEPT (ssn) FROM shop.customer_contacts) v LIMIT 50', expect: 'masked' },
  { name: 'view for support (not allowed)', sql: 'SELECT email FROM shop.customer_contacts LIMIT 5', expect: 'refused', who: 'support' },
  // wildcard, time travel, INFORMATION_SCHEMA
  { name: 'wildcard table over customers', sql: 'SELECT * FROM `demo-project.shop.customer*` LIMIT 5', expect: 'refused' },
  { name: 'time travel on a masked table', sql: 'SELECT email FROM shop.customers FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR) LIMIT 5', expect: 'refused' },
  // INFORMATION_SCHEMA: a dataset's views are filtered to what the caller may read (pipeline/infoschema-filter.ts): the
  // denied ssn (customers, and the customer_contacts view over it) is never named; VIEWS' SQL and routine bodies are NULL;
  // region-level views never name the hr_private dataset; JOBS shows only the caller's own jobs, their SQL NULL (jobs-views.ts)
  { name: 'INFORMATION_SCHEMA', sql: 'SELECT * FROM `demo-project.shop.INFORMATION_SCHEMA.COLUMNS`', expect: 'masked', absent: ['ssn'] },
  { name: 'INFORMATION_SCHEMA field paths, lower case', sql: 'SELECT table_name, column_name, field_path FROM `demo-project`.shop.information_schema.column_field_paths', expect: 'masked', absent: ['ssn'] },
  { name: 'INFORMATION_SCHEMA.TABLES ddl', sql: 'SELECT table_name, ddl FROM shop.INFORMATION_SCHEMA.TABLES', expect: 'masked', absent: ['ssn'] },
  { name: 'INFORMATION_SCHEMA.TABLES *', sql: 'SELECT * FROM `demo-project.shop.INFORMATION_SCHEMA.TABLES`', expect: 'masked', absent: ['ssn'] },
  { name: 'INFORMATION_SCHEMA.VIEWS', sql: 'SELECT table_name, view_definition FROM shop.INFORMATION_SCHEMA.VIEWS', expect: 'masked', absent: ['ssn', 'customers'] },
  { name: 'INFORMATION_SCHEMA.ROUTINES bodies', sql: 'SELECT routine_name, routine_definition, ddl FROM shop.INFORMATION_SCHEMA.ROUTINES', expect: 'masked', absent: ['SELECT', 'customers'] },
  { name: 'region-level ROUTINES *', sql: 'SELECT * FROM `region-us`.INFORMATION_SCHEMA.ROUTINES', expect: 'masked', absent: ['SELECT', 'customers'] },
  { name: 'hidden dataset through SCHEMATA', sql: 'SELECT * FROM `demo-project`.`region-us`.INFORMATION_SCHEMA.SCHEMATA', expect: 'masked', absent: ['hr_private'] },
  { name: 'hidden dataset through region-level TABLES', sql: 'SELECT * FROM `region-us`.INFORMATION_SCHEMA.TABLES', expect: 'masked', absent: ['hr_private', 'salaries', 'ssn'] },
  { name: 'hidden dataset through region-level COLUMNS', sql: 'SELECT table_schema, table_name, column_name FROM `demo-project.region-us.INFORMATION_SCHEMA.COLUMNS`', expect: 'masked', absent: ['hr_private', 'salaries', 'salary', 'ssn'] },
  () => ({ name: "another principal's job id and text through JOBS", sql: 'SELECT * FROM `region-us`.INFORMATION_SCHEMA.JOBS', expect: 'masked', absent: [supportJobId, 'supportsecretjob', 'FROM_HEX'] }),
  () => ({ name: "another principal's job id through JOBS_BY_PROJECT", sql: `SELECT COUNT(*) AS n FROM \`region-us\`.INFORMATION_SCHEMA.JOBS_BY_PROJECT WHERE ENDS_WITH(job_id, '${supportJobId}')`, expect: 'zero' }),
  { name: "another principal's query text through JOBS_BY_USER", sql: "SELECT COUNT(*) AS n FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_USER WHERE query LIKE '%supportsecretjob%' OR query LIKE '%FROM_HEX%'", expect: 'zero' },
  { name: 'JOBS_BY_ORGANIZATION', sql: 'SELECT job_id, query FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_ORGANIZATION', expect: 'refused' },
  // scripts, temp tables, DDL/DML, dynamic SQL, export
  { name: 'script with a variable', sql: 'DECLARE x STRING; SET x = (SELECT ssn FROM shop.customers LIMIT 1); SELECT x;', expect: 'refused' },
  { name: 'BEGIN…END block', sql: 'BEGIN SELECT email FROM shop.customers LIMIT 5; END', expect: 'masked' }, // the emulator runs scripts (src/emulator/script.ts): every cell is checked
  { name: 'temp table', sql: 'CREATE TEMP TABLE t AS SELECT email FROM shop.customers; SELECT * FROM t', expect: 'masked' },
  { name: 'CTAS', sql: 'CREATE TABLE shop.leak AS SELECT ssn FROM shop.customers', expect: 'refused' },
  { name: 'CTAS of masked columns', sql: 'CREATE TABLE shop.leak2 AS SELECT email FROM shop.customers', expect: 'refused' },
  { name: 'EXPORT DATA', sql: "EXPORT DATA OPTIONS (uri = 'gs://bucket/leak-*.csv', format = 'CSV') AS SELECT email FROM shop.customers", expect: 'refused' },
  { name: 'EXECUTE IMMEDIATE', sql: "EXECUTE IMMEDIATE 'SELECT ssn FROM shop.customers'", expect: 'refused' },
  { name: 'INSERT … SELECT', sql: 'INSERT INTO shop.orders (order_id) SELECT customer_id FROM shop.customers', expect: 'refused' },
  { name: 'UPDATE', sql: "UPDATE shop.customers SET email = 'x' WHERE TRUE", expect: 'refused' },
  { name: 'MERGE', sql: 'MERGE shop.orders o USING shop.customers c ON o.customer_id = c.customer_id WHEN MATCHED THEN DELETE', expect: 'refused' },
  { name: 'temp function', sql: 'CREATE TEMP FUNCTION f(x STRING) AS (x); SELECT f(ssn) FROM shop.customers', expect: 'refused' },
  { name: 'JavaScript UDF', sql: 'CREATE TEMP FUNCTION f(x STRING) RETURNS STRING LANGUAGE js AS "return x;"; SELECT f(email) FROM shop.customers', expect: 'refused' },
  { name: 'DROP TABLE', sql: 'DROP TABLE shop.orders', expect: 'refused' },
  // routines: a persistent routine's body is not in the statement text, so the rewrite cannot mask it
  { name: 'UDF body reads a masked column', sql: 'SELECT order_id, shop.customer_email(customer_id) AS e FROM shop.orders LIMIT 50', expect: 'refused' },
  { name: 'UDF body through a backticked path', sql: 'SELECT `demo-project.shop.customer_email`(1) AS e', expect: 'refused' },
  { name: 'TVF body reads a masked column', sql: 'SELECT email FROM shop.customer_directory(1) LIMIT 50', expect: 'refused' },
  { name: 'TVF output joined back', sql: 'SELECT d.email, o.amount FROM shop.customer_directory(1) d JOIN shop.orders o USING (customer_id) LIMIT 50', expect: 'refused' },
  { name: 'procedure body reads a masked column', sql: "CALL shop.customer_report('US')", expect: 'refused' },
  // (the demo policy denies CREATE_* to analysts, temp functions included; test/routines.test.ts checks
  // that the rewrite masks a temp function's body where the script declares it)
  { name: 'temp function wrapping a masked column', sql: 'CREATE TEMP FUNCTION g(x STRING) AS (UPPER(x)); SELECT g(email) AS e FROM shop.customers LIMIT 50', expect: 'refused' },
  { name: 'temp function body reading a masked table', sql: 'CREATE TEMP FUNCTION h(i INT64) AS ((SELECT MAX(email) FROM shop.customers WHERE customer_id = i)); SELECT h(1) AS e', expect: 'refused' },
  { name: 'templated temp function body reading a masked table', sql: 'CREATE TEMP FUNCTION h(i ANY TYPE) AS ((SELECT MAX(email) FROM shop.customers WHERE customer_id = i)); SELECT h(1) AS e', expect: 'refused' },
  { name: 'temp function body reading ssn', sql: 'CREATE TEMP FUNCTION s(i INT64) AS ((SELECT MAX(ssn) FROM shop.customers WHERE customer_id = i)); SELECT s(1) AS e', expect: 'refused' },
  // predicates and aggregates as oracles on masked columns
  () => ({ name: 'equality oracle on email', sql: `SELECT COUNT(*) AS n FROM shop.customers WHERE email = '${raw1().email}'`, expect: 'zero' }),
  () => ({ name: 'equality oracle on full_name', sql: `SELECT COUNT(*) AS n FROM shop.customers WHERE full_name = '${raw1().full_name.replace(/'/g, "\\'")}'`, expect: 'zero' }),
  () => ({ name: 'prefix oracle on card_number', sql: `SELECT customer_id FROM shop.customers WHERE STARTS_WITH(card_number, '${raw1().card_number.slice(0, 4)}')`, expect: 'empty' }),
  () => ({ name: 'LIKE oracle on email', sql: `SELECT customer_id FROM shop.customers WHERE email LIKE '${raw1().email.split('@')[0]}%'`, expect: 'empty' }),
  () => ({ name: 'date oracle on birth_date', sql: `SELECT customer_id FROM shop.customers WHERE birth_date = DATE '${raw.find((r) => !r.birth_date.endsWith('-01-01'))!.birth_date}'`, expect: 'empty' }),
  { name: 'MIN/MAX of masked columns', sql: 'SELECT MIN(email), MAX(email), MIN(full_name), MAX(card_number) FROM shop.customers', expect: 'masked' },
  { name: 'STRING_AGG', sql: "SELECT STRING_AGG(card_number, ',' LIMIT 50) FROM shop.customers", expect: 'masked' },
  { name: 'APPROX_TOP_COUNT', sql: 'SELECT APPROX_TOP_COUNT(email, 5) FROM shop.customers', expect: 'masked', emulatorGap: true },
  { name: 'GROUP BY a masked column', sql: 'SELECT email, COUNT(*) FROM shop.customers GROUP BY email ORDER BY 2 DESC LIMIT 20', expect: 'masked' },
  { name: 'ORDER BY ssn', sql: 'SELECT customer_id FROM shop.customers ORDER BY ssn LIMIT 5', expect: 'refused' },
  { name: 'COUNT DISTINCT ssn', sql: 'SELECT COUNT(DISTINCT ssn) FROM shop.customers', expect: 'refused' },
  { name: 'GROUP BY ssn', sql: 'SELECT customer_id FROM shop.customers GROUP BY customer_id, ssn LIMIT 1', expect: 'refused' },
  { name: 'ssn in a CASE', sql: "SELECT IF(SUBSTR(ssn, 1, 1) = '0', 1, 0) FROM shop.customers LIMIT 1", expect: 'refused' },
  { name: 'ssn in WHERE FALSE', sql: 'SELECT ssn FROM shop.customers WHERE FALSE', expect: 'refused' },
  { name: 'QUALIFY over ssn', sql: 'SELECT customer_id FROM shop.customers WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY ssn) = 1', expect: 'refused' },
  { name: 'window ordered by a masked column', sql: 'SELECT customer_id, email, ROW_NUMBER() OVER (ORDER BY email) FROM shop.customers LIMIT 50', expect: 'masked' },
  // partial-mask defeats
  { name: 'REVERSE', sql: 'SELECT REVERSE(card_number), REVERSE(email), REVERSE(full_name) FROM shop.customers LIMIT 50', expect: 'masked' },
  { name: 'SUBSTR of a card number', sql: 'SELECT SUBSTR(card_number, 1, 12), LEFT(card_number, 6) FROM shop.customers LIMIT 50', expect: 'masked' },
  { name: 'REGEXP_EXTRACT of the email user', sql: "SELECT REGEXP_EXTRACT(email, r'^([^@]+)') FROM shop.customers LIMIT 50", expect: 'masked' },
  { name: 'SPLIT of the email', sql: "SELECT SPLIT(email, '@')[OFFSET(0)] FROM shop.customers LIMIT 50", expect: 'masked' },
  { name: 'CONCAT of masked columns', sql: 'SELECT CONCAT(full_name, email, card_number) FROM shop.customers LIMIT 50', expect: 'masked' },
  { name: 'keyed hash of phone, and its parts', sql: 'SELECT phone, SUBSTR(phone, 1, 12) AS p FROM shop.customers LIMIT 50', expect: 'masked' },
  { name: 'TO_HEX of bytes', sql: 'SELECT TO_HEX(CAST(card_number AS BYTES)) FROM shop.customers LIMIT 50', expect: 'masked' },
  { name: 'EXTRACT from a masked date', sql: 'SELECT EXTRACT(MONTH FROM birth_date) AS m, EXTRACT(DAY FROM birth_date) AS d FROM shop.customers LIMIT 50', expect: 'masked' },
  // values echoed back in errors
  { name: 'CAST error on a masked value', sql: 'SELECT CAST(email AS INT64) FROM shop.customers', expect: 'masked' },
  { name: 'ERROR() with a masked value', sql: 'SELECT ERROR(card_number) FROM shop.customers', expect: 'masked' },
  // lexical differentials: text the analyzer reads as a comment or a string, another parser as code
  // (issue 16). The upstream receives SQL regenerated from the analysis, so none of it reaches it.
  { name: 'nested block comment hides a raw scan', sql: 'SELECT email, full_name, card_number FROM /* /* */ shop.customers -- */ shop.customers LIMIT 5', expect: 'masked' },
  { name: 'raw triple-quoted literal with a backslash', sql: "SELECT r'''\\''' AS s, card_number FROM shop.customers -- ''' AS s, email FROM shop.customers LIMIT 5", expect: 'masked' },
  { name: 'raw triple-double-quoted literal', sql: 'SELECT R"""\\""" AS s, full_name FROM shop.customers -- """ AS s, email FROM shop.customers LIMIT 5', expect: 'masked' },
  { name: '-- comment ended by a lone CR', sql: 'SELECT email, full_name FROM -- \r /* \n shop.customers -- */ shop.customers \n LIMIT 5', expect: 'masked' },
  { name: '# comment ended by a lone CR', sql: 'SELECT email, full_name FROM # \r /* \n shop.customers # */ shop.customers \n LIMIT 5', expect: 'masked' },
  { name: 'hidden host file read', sql: "SELECT email FROM /* /* */ shop.customers -- */ (SELECT content AS email FROM read_text('/etc/passwd'))", expect: 'masked' },
  // pipe syntax and the other desugared syntax (src/sql/pipe/): what is masked, denied and sent is the desugared statement
  { name: 'pipe AGGREGATE of masked columns', sql: "FROM shop.customers |> AGGREGATE STRING_AGG(email, ',') AS e, MAX(card_number) AS c, ANY_VALUE(full_name) AS f GROUP BY country", expect: 'masked' },
  { name: 'pipe SELECT of masked columns', sql: 'FROM shop.customers |> SELECT email, card_number, full_name |> LIMIT 50', expect: 'masked' },
  { name: 'pipe EXTEND over masked columns', sql: 'FROM (SELECT customer_id, email, card_number FROM shop.customers) |> EXTEND REVERSE(email) AS r, SUBSTR(card_number, 1, 12) AS p |> SELECT r, p |> LIMIT 50', expect: 'masked' },
  { name: 'pipe RENAME of a masked column', sql: 'FROM shop.customers |> SELECT customer_id, email, card_number |> RENAME email AS contact, card_number AS n |> LIMIT 50', expect: 'masked' },
  { name: 'pipe SET from a masked column', sql: 'FROM shop.customers |> SELECT customer_id, email, city |> SET city = email |> LIMIT 50', expect: 'masked' },
  () => ({ name: 'pipe WHERE oracle on email', sql: `FROM shop.customers |> WHERE email = '${raw1().email}' |> AGGREGATE COUNT(*) AS n`, expect: 'zero' }),
  () => ({ name: 'pipe WHERE prefix oracle on card_number', sql: `FROM shop.customers |> WHERE STARTS_WITH(card_number, '${raw1().card_number.slice(0, 4)}') |> SELECT customer_id`, expect: 'empty' }),
  { name: 'pipe DROP keeps ssn', sql: 'FROM shop.customers |> DROP email |> LIMIT 1', expect: 'refused' },
  { name: 'pipe RENAME of ssn', sql: 'FROM shop.customers |> SELECT customer_id, ssn |> RENAME ssn AS id2 |> LIMIT 1', expect: 'refused' },
  { name: 'pipe SET from ssn', sql: 'FROM shop.customers |> SELECT customer_id, email |> SET email = (SELECT MAX(ssn) FROM shop.customers) |> LIMIT 1', expect: 'refused' },
  { name: 'pipe ORDER BY ssn then drop it', sql: 'FROM shop.customers |> SELECT customer_id, ssn |> ORDER BY ssn |> DROP ssn |> LIMIT 5', expect: 'refused' },
  { name: 'pipe AGGREGATE GROUP BY ssn', sql: 'FROM shop.customers |> AGGREGATE COUNT(*) AS n GROUP BY ssn', expect: 'refused' },
  { name: 'pipe after a lone CR ends a comment', sql: 'SELECT customer_id FROM shop.customers -- x\r|> SELECT ssn', expect: 'refused' },
  { name: 'pipe hidden in a block comment', sql: 'SELECT email FROM shop.customers /* |> SELECT ssn */ LIMIT 50', expect: 'masked' },
  { name: 'a masked column through a multi-level aggregate (desugared into two GROUP BY levels)', sql: 'SELECT country, ARRAY_CONCAT_AGG(ARRAY_AGG(email) GROUP BY city) AS e FROM shop.customers GROUP BY country', expect: 'masked' },
  { name: 'GROUP BY an expression of a masked column, spelled as its aliased select item (desugared to the ordinal)', sql: 'SELECT LOWER(email) AS e, COUNT(*) AS n FROM shop.customers GROUP BY LOWER(email) ORDER BY e LIMIT 20', expect: 'masked' },
  { name: 'GROUP BY ALL of a masked column', sql: 'SELECT email, COUNT(*) AS n FROM shop.customers GROUP BY ALL ORDER BY n DESC LIMIT 20', expect: 'masked' },
  { name: 'UNION ALL BY NAME of masked columns', sql: 'SELECT email AS v, customer_id FROM shop.customers UNION ALL BY NAME SELECT customer_id, full_name AS v FROM shop.customers', expect: 'masked', emulatorGap: true },
  { name: 'chained call on a masked column', sql: 'SELECT (card_number).REVERSE() AS r, (email).UPPER() AS e FROM shop.customers LIMIT 50', expect: 'masked' },
  // whole-row search and grouping sets (issue 17): SEARCH(t, …) / CONTAINS_SUBSTR(t, …) read every
  // column of t; a column only in a GROUPING SETS / ROLLUP / CUBE list is read and grouped by.
  { name: 'SEARCH over the whole customers row', sql: "SELECT customer_id FROM shop.customers c WHERE SEARCH(c, '123')", expect: 'refused' },
  { name: 'CONTAINS_SUBSTR over the whole customers row', sql: "SELECT COUNT(*) FROM shop.customers c WHERE CONTAINS_SUBSTR(c, '-')", expect: 'refused' },
  { name: 'SEARCH over ssn', sql: "SELECT customer_id FROM shop.customers WHERE SEARCH(ssn, '123')", expect: 'refused' },
  () => ({ name: 'CONTAINS_SUBSTR oracle on email', sql: `SELECT customer_id FROM shop.customers WHERE CONTAINS_SUBSTR(email, '${longLocal().email.split('@')[0]}')`, expect: 'empty' }),
  () => ({ name: 'CONTAINS_SUBSTR oracle on card_number', sql: `SELECT customer_id FROM shop.customers WHERE CONTAINS_SUBSTR(card_number, '${raw1().card_number.slice(0, 8)}')`, expect: 'empty' }),
  () => ({ name: 'CONTAINS_SUBSTR oracle on full_name', sql: `SELECT COUNT(*) AS n FROM shop.customers WHERE CONTAINS_SUBSTR(full_name, '${raw1().full_name.replace(/'/g, "\\'")}')`, expect: 'zero' }),
  () => ({ name: 'SEARCH oracle on email', sql: `SELECT COUNT(*) AS n FROM shop.customers WHERE SEARCH(email, '${longLocal().email}')`, expect: 'zero', emulatorGap: true }),
  () => ({ name: 'SEARCH oracle over a row without ssn', sql: `SELECT COUNT(*) AS n FROM (SELECT * EXCEPT (ssn) FROM shop.customers) c WHERE SEARCH(c, '${longLocal().email}')`, expect: 'zero', emulatorGap: true }),
  { name: 'GROUPING SETS over masked columns', sql: 'SELECT email, full_name, COUNT(*) AS n FROM shop.customers GROUP BY GROUPING SETS ((email), (full_name)) LIMIT 50', expect: 'masked' },
  { name: 'ROLLUP and GROUPING() over a card number', sql: 'SELECT card_number, GROUPING(card_number) AS g, COUNT(*) AS n FROM shop.customers GROUP BY ROLLUP (card_number) LIMIT 50', expect: 'masked' },
  { name: 'CUBE over masked columns', sql: 'SELECT email, birth_date, COUNT(*) AS n FROM shop.customers GROUP BY CUBE (email, birth_date) LIMIT 50', expect: 'masked' },
  { name: 'GROUPING SETS over ssn only', sql: 'SELECT COUNT(*) AS n FROM shop.customers GROUP BY GROUPING SETS ((ssn), ())', expect: 'refused' },
  { name: 'CUBE over ssn', sql: 'SELECT GROUPING(ssn) AS g FROM shop.customers GROUP BY CUBE (ssn)', expect: 'refused' },
  { name: 'FULL CORRESPONDING union with ssn', sql: 'SELECT email AS v FROM shop.customers FULL UNION ALL CORRESPONDING SELECT ssn AS v FROM shop.customers', expect: 'refused' },
  { name: 'FULL CORRESPONDING union of masked columns', sql: 'SELECT email AS v, 1 AS k FROM shop.customers FULL UNION ALL CORRESPONDING SELECT card_number AS v FROM shop.customers LIMIT 50', expect: 'masked', emulatorGap: true },
  // set operations by name desugared by src/sql/pipe/setops.ts (STRICT checked after analysis, column lists as a projection)
  { name: 'BY NAME ON list of masked columns', sql: 'SELECT email AS v, customer_id FROM shop.customers FULL UNION ALL BY NAME ON (v) SELECT customer_id, card_number AS v FROM shop.customers LIMIT 50', expect: 'masked', emulatorGap: true },
  { name: 'STRICT CORRESPONDING with ssn', sql: 'SELECT ssn AS v FROM shop.customers UNION ALL STRICT CORRESPONDING SELECT email AS v FROM shop.customers', expect: 'refused' },
  { name: 'BY NAME ON list dropping ssn', sql: 'SELECT ssn AS x, city FROM shop.customers FULL UNION ALL BY NAME ON (city) SELECT city FROM shop.customers', expect: 'refused' },
  () => ({ name: 'LIKE ANY UNNEST oracle on email', sql: `SELECT COUNT(*) AS n FROM shop.customers WHERE email LIKE ANY UNNEST(['${longLocal().email.split('@')[0]}%'])`, expect: 'zero', emulatorGap: true }),
  // support: sees email in clear, ssn and card as last four
  { name: 'support ssn and card', sql: 'SELECT ssn, card_number FROM shop.customers LIMIT 50', expect: 'masked', who: 'support' },
  { name: 'support REVERSE(ssn)', sql: 'SELECT REVERSE(ssn), SUBSTR(card_number, 1, 8) FROM shop.customers LIMIT 50', expect: 'masked', who: 'support' },
  () => ({ name: 'support ssn oracle', sql: `SELECT COUNT(*) AS n FROM shop.customers WHERE ssn = '${raw1().ssn}'`, expect: 'zero', who: 'support' }),
  { name: 'support on orders (not allowed)', sql: 'SELECT * FROM shop.orders LIMIT 1', expect: 'refused', who: 'support' },
  // BigQuery TVFs and functions (sql/tvfs): the input relation is masked at its scan; the emulator cannot run ML
  { name: 'masked email through ML.PREDICT', sql: 'SELECT email, card_number, predicted_churned FROM ML.PREDICT(MODEL shop.churn_model, (SELECT customer_id, email, card_number, country, city, birth_date FROM shop.customers))', expect: 'masked', emulatorGap: true },
  { name: 'ssn through ML.PREDICT over TABLE customers', sql: 'SELECT predicted_churned, email FROM ML.PREDICT(MODEL shop.churn_model, TABLE shop.customers)', expect: 'refused' },
  { name: 'ML.RECOMMEND over masked emails: the model is denied to analysts (its training data is unmasked emails)', sql: 'SELECT email, item_id, predicted_rating FROM ML.RECOMMEND(MODEL shop.product_recs, (SELECT email FROM shop.customers))', expect: 'refused' },
  // models are governed as tables of their dataset (models.getData): a model no allow rule names, or one a rule denies, is refused
  { name: 'masked email through the second of two ML.PREDICT calls (a call alias)', sql: 'SELECT b.email, a.predicted_churned FROM ML.PREDICT(MODEL shop.churn_model, (SELECT customer_id, country FROM shop.customers)) AS a CROSS JOIN ML.PREDICT(MODEL shop.churn_model, (SELECT customer_id, email, city FROM shop.customers)) AS b', expect: 'masked', emulatorGap: true, sent: true },
  { name: 'ssn through the inner of two nested ML.PREDICT calls', sql: 'SELECT p1, predicted_churned FROM ML.PREDICT(MODEL shop.churn_model, (SELECT customer_id, country, predicted_churned AS p1 FROM ML.PREDICT(MODEL shop.churn_model, (SELECT customer_id, country, ssn FROM shop.customers))))', expect: 'refused' },
  { name: 'a model of a dataset support may not read, through ML.PREDICT over an allowed table', sql: 'SELECT customer_id, predicted_churned FROM ML.PREDICT(MODEL shop.churn_model, (SELECT customer_id, country, city, birth_date FROM shop.customers))', expect: 'refused', who: 'support' },
  { name: 'training-data emails through ML.RECOMMEND without an input (model denied to analysts)', sql: 'SELECT * FROM ML.RECOMMEND(MODEL shop.product_recs)', expect: 'refused' },
  { name: 'a model through a backticked path and ML.WEIGHTS (support)', sql: 'SELECT * FROM ML.WEIGHTS(MODEL `demo-project.shop.churn_model`)', expect: 'refused', who: 'support' },
  { name: 'ssn as a VECTOR_SEARCH base column', sql: "SELECT base.ssn, distance FROM VECTOR_SEARCH((SELECT ssn, tags FROM shop.customers), 'tags', (SELECT tags FROM shop.customers WHERE customer_id = 1), 'tags', top_k => 3)", expect: 'refused' },
  { name: 'masked email through VECTOR_SEARCH', sql: "SELECT base.email, distance FROM VECTOR_SEARCH((SELECT customer_id, email, tags FROM shop.customers), 'tags', (SELECT tags FROM shop.customers WHERE customer_id = 1), 'tags', top_k => 3)", expect: 'masked', emulatorGap: true },
  { name: 'masked email in an AI.GENERATE prompt', sql: "SELECT AI.GENERATE(CONCAT('Repeat: ', email), connection_id => 'us.llm').result AS r FROM shop.customers", expect: 'masked', emulatorGap: true },
  { name: 'ssn through APPENDS', sql: 'SELECT ssn FROM APPENDS(TABLE shop.customers, NULL, NULL)', expect: 'refused' },
  { name: 'EXTERNAL_QUERY on a connection no rule allows', sql: "SELECT id FROM EXTERNAL_QUERY('demo-project.us.crm', 'SELECT id FROM accounts')", expect: 'refused' },
  // ML / AI constructs of issue 17: the argument's columns are read (lineage through the function / TVF)
  { name: 'EXTERNAL_QUERY SELECT * on a connection no rule allows (no dry run is sent)', sql: "SELECT * FROM EXTERNAL_QUERY('demo-project.us.crm', 'SELECT * FROM accounts')", expect: 'refused' },
  { name: 'ssn through an analytic ML preprocessing function', sql: 'SELECT ML.LABEL_ENCODER(ssn) OVER () AS e FROM shop.customers', expect: 'refused' },
  { name: 'ssn through AI.GENERATE with output_schema', sql: "SELECT AI.GENERATE(ssn, output_schema => 'x STRING').x FROM shop.customers", expect: 'refused' },
  { name: 'ssn through EXTERNAL_OBJECT_TRANSFORM', sql: "SELECT ssn FROM EXTERNAL_OBJECT_TRANSFORM(TABLE shop.customers, ['SIGNED_URL'])", expect: 'refused' },
  // a persistent table function's table parameter: the call's relation argument is masked at its scan, and the
  // body's reads of the parameter are lineage to the argument's columns (shop.contact_of passes email as contact)
  { name: 'masked email through a table function\'s table argument', sql: 'SELECT contact FROM shop.contact_of((SELECT customer_id, email FROM shop.customers))', expect: 'masked', emulatorGap: true },
  { name: 'ssn renamed into a table function\'s table argument', sql: 'SELECT contact FROM shop.contact_of((SELECT customer_id, ssn AS email FROM shop.customers))', expect: 'refused' },
  { name: 'ssn through TABLE customers as a table function\'s argument', sql: 'SELECT contact FROM shop.contact_of(TABLE shop.customers)', expect: 'refused' },
];

/** The outcome of one case through the SDK: rows, or the error. */
async function viaSdk(c: Case) {
  const token = c.who === 'support' ? support : analyst;
  try {
    const [rows] = await gw.sdk(token).query({ query: c.sql, useLegacySql: false });
    return { rows: rows as unknown[] };
  } catch (err) {
    return { error: err as { code?: number; message: string; errors?: Array<{ reason: string }> } };
  }
}

function check(c: Case, out: { rows?: unknown[]; error?: { code?: number; message: string; errors?: Array<{ reason: string }> } }) {
  const who = c.who ?? 'analyst';
  if (out.error) {
    expect(leaks(out.error.message, who), `${c.name}: error message leaks`).toEqual([]);
    if (c.expect === 'refused') expect(['accessDenied', 'invalidQuery', 'notFound']).toContain(out.error.errors?.[0]?.reason);
    else if (c.expect === 'masked' && /CAST|ERROR/.test(c.sql)) return; // an error is an acceptable answer there
    else if (c.emulatorGap && out.error.errors?.[0]?.reason === 'invalidQuery') return;
    else throw new Error(`${c.name}: expected ${c.expect}, got error ${out.error.message}`);
    return;
  }
  expect(c.expect, `${c.name}: should have been refused`).not.toBe('refused');
  const text = strings(out.rows).join('\n');
  expect(leaks(text, who), `${c.name}: delivered raw values`).toEqual([]);
  if (c.expect === 'empty') expect(out.rows).toHaveLength(0);
  if (c.expect === 'zero') expect(strings(out.rows)).toEqual(['0']);
  if (c.expect === 'masked') expect(out.rows!.length, `${c.name}: returned no rows to check`).toBeGreaterThan(0);
  if (c.absent) expect(strings(out.rows).filter((v) => c.absent!.some((n) => new RegExp(`\\b${n}\\b`, 'i').test(v))), `${c.name}: names what the policy hides`).toEqual([]);
}

/**
 * A refusal must be the gateway's: an error from upstream means the statement was sent (the emulator
 * cannot run SEARCH, VECTOR_SEARCH or ML.PREDICT, and BigQuery would have answered with the rows). The
 * audit record of the statement is written before the response, so it is there to read.
 */
async function refusedByGateway(c: Case) {
  const sub = c.who === 'support' ? 'leak-support' : 'leak-analyst';
  const mine = (await auditRequests(gw.dataDir)).filter((r) => r.sql === c.sql && r.principal.includes(sub));
  expect(mine.length, `${c.name}: no audit record of the statement`).toBeGreaterThan(0);
  expect(mine.filter((r) => r.upstream?.sql).map((r) => r.upstream!.sql), `${c.name}: sent upstream instead of refused by the gateway`).toEqual([]);
}

/**
 * A masked route the emulator cannot run (emulatorGap) has no rows to check, so what the gateway sent
 * is checked instead: each time the statement went upstream, `column` was read through its mask (the
 * analysts' email mask keeps the domain: REGEXP_EXTRACT over the raw column inside the masking
 * projection). A gateway refusal (UNION ALL BY NAME here) sends nothing, which is safe.
 */
async function sentMasked(c: Case, column: string) {
  const sent = (await auditRequests(gw.dataDir)).filter((r) => r.sql === c.sql && r.principal.includes('leak-analyst') && r.upstream?.sql).map((r) => r.upstream!.sql!);
  if (c.sent) expect(sent.length, `${c.name}: the gateway refused it instead of sending it masked`).toBeGreaterThan(0);
  for (const q of sent) expect(q, `${c.name}: ${column} sent without its mask`).toContain(`REGEXP_EXTRACT(\`${column}\``);
}

describe('leak attempts through the SDK', () => {
  it.each(CASES.map((c, i) => [i, c] as const))('case %i', async (_i, mk) => {
    const c = typeof mk === 'function' ? mk() : mk;
    check(c, await viaSdk(c));
    if (c.expect === 'refused') await refusedByGateway(c);
    if (c.expect === 'masked' && c.emulatorGap && /\bemail\b/.test(c.sql)) await sentMasked(c, 'email');
  });

  it('the leak oracle itself catches raw values', () => {
    const r = raw1();
    expect(leaks(`{"e":"${r.email}"}`, 'analyst')).not.toEqual([]);
    expect(leaks(`x ${[...r.card_number].reverse().join('')} y`, 'analyst')).not.toEqual([]);
    expect(leaks(r.card_number.slice(0, 12), 'analyst')).not.toEqual([]);
    expect(leaks(r.ssn, 'support')).not.toEqual([]);
    expect(leaks('XXXXX@gmail.com XXXXX4701', 'analyst')).toEqual([]);
    // a digest whose hex digits happen to spell a card window, and its 12-character prefix, are not leaks
    const digest = `3${r.card_number.slice(1, 9)}`.padEnd(64, 'e');
    expect(leaks(`${digest}\n${digest.slice(0, 12)}`, 'analyst')).toEqual([]);
    expect(leaks(`${digest.slice(0, 12)}`, 'analyst')).not.toEqual([]);
  });
});

/**
 * SEARCH is valid BigQuery the DuckDB emulator cannot execute (no such function there; issue 20), so
 * its answer cannot be checked. What the gateway decides and sends can: the statement is allowed with
 * the analysts' masks, and what goes upstream reads customers through exactly the masking projection
 * a plain read of email goes through, whose delivered values are checked masked here.
 */
describe('SEARCH oracle on a masked column, as sent upstream', () => {
  it('reads email through the same masking projection as a checked masked read', async () => {
    const who = longLocal();
    const plainSql = `SELECT email FROM shop.customers WHERE customer_id = ${who.customer_id}`;
    const searchSql = `SELECT customer_id FROM shop.customers WHERE SEARCH(email, '${who.email}')`;
    const [rows] = await gw.sdk(analyst).query({ query: plainSql, useLegacySql: false });
    expect(rows).toHaveLength(1);
    expect(leaks(strings(rows).join('\n'), 'analyst')).toEqual([]);
    const out = await viaSdk({ name: 'SEARCH oracle', sql: searchSql, expect: 'empty' });
    if (out.rows) expect(out.rows, 'an emulator that runs SEARCH must find nothing').toHaveLength(0);
    else expect(leaks(out.error!.message, 'analyst')).toEqual([]);
    const records = await auditRequests(gw.dataDir);
    const plain = records.find((r) => r.sql === plainSql);
    const search = records.find((r) => r.sql === searchSql);
    expect(search?.decision?.effect).toBe(plain?.decision?.effect);
    expect(search?.decision?.matchedRules).toContain('analysts-mask-pii');
    const sent = search?.upstream?.sql ?? '';
    // the text that replaced the table in the plain read (up to its WHERE) is the masking projection
    const projection = plain!.upstream!.sql!.slice(plain!.upstream!.sql!.indexOf('FROM ') + 5, plain!.upstream!.sql!.lastIndexOf(' WHERE'));
    console.log(`SEARCH sent upstream: ${sent}\nmasking projection: ${projection}`);
    expect(projection).toContain("CONCAT('XXXXX'");
    expect(sent).toContain(projection);
    expect(sent).toMatch(/SEARCH\(/i);
    expect(sent.split('`demo-project.shop.customers`').length - 1, 'customers is read once, inside the projection').toBe(1);
  });
});

describe('leak attempts through bq', () => {
  const BQ_CASES = ['TO_JSON_STRING of a row', 'SELECT * EXCEPT (ssn)', 'chained CTEs with renames', 'UNION ALL', 'JOIN USING a masked column',
    'UNNEST of masked values', 'script with a variable', 'wildcard table over customers', 'REVERSE', 'support ssn and card',
    'nested block comment hides a raw scan', 'raw triple-quoted literal with a backslash', '-- comment ended by a lone CR',
    'pipe AGGREGATE of masked columns', 'pipe RENAME of a masked column', 'pipe DROP keeps ssn', 'pipe WHERE oracle on email'];
  it.each(BQ_CASES)('%s', async (name) => {
    const c = CASES.map((mk) => (typeof mk === 'function' ? mk() : mk)).find((x) => x.name === name)!;
    const r = await gw.bq(c.who === 'support' ? support : analyst, ['--format=json', 'query', '--nouse_legacy_sql', c.sql]);
    const text = r.stdout + r.stderr;
    expect(leaks(text, c.who ?? 'analyst'), c.name).toEqual([]);
    if (c.expect === 'refused') expect(r.code, c.name).not.toBe(0);
    else expect(r.code, `${c.name}: ${text}`).toBe(0);
  });
});

describe('pipe syntax end to end', () => {
  const rowsOf = async (token: string, sql: string) => (await gw.sdk(token).query({ query: sql, useLegacySql: false }))[0] as Array<Record<string, unknown>>;
  const plain = (rows: Array<Record<string, unknown>>) => JSON.parse(JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));

  it('a pipe query returns the rows of its standard form, as the emulator computes them', async () => {
    const pipe = 'FROM shop.orders |> WHERE amount > 20 |> AGGREGATE COUNT(*) AS n, SUM(amount) AS total GROUP AND ORDER BY status';
    const standard = 'SELECT status, COUNT(*) AS n, SUM(amount) AS total FROM shop.orders WHERE amount > 20 GROUP BY status ORDER BY status';
    const got = plain(await rowsOf(analyst, pipe));
    const [want] = await gw.emulatorSdk().query({ query: standard, useLegacySql: false });
    console.log(`pipe AGGREGATE: ${got.length} groups through the gateway, ${want.length} computed directly`);
    expect(got.length).toBeGreaterThan(0);
    expect(got).toEqual(plain(want));
  });

  it('multi-level aggregation (desugared into two levels of GROUP BY) gives the reference\'s documented answers', async () => {
    // https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate-function-calls#group_by_modifier (corpus bigquery-docs-00734, -00736)
    const sales = "WITH Sales AS (SELECT 'Apples' AS Product, 100 AS revenue, TIMESTAMP '2026-01-01 10:00:00' AS time UNION ALL SELECT 'Apples', 150, TIMESTAMP '2026-01-01 12:00:00' UNION ALL SELECT 'Apples', 200, TIMESTAMP '2026-01-02 10:00:00' UNION ALL SELECT 'Oranges', 50, TIMESTAMP '2026-01-01 10:00:00' UNION ALL SELECT 'Oranges', 60, TIMESTAMP '2026-01-02 10:00:00' UNION ALL SELECT 'Oranges', 70, TIMESTAMP '2026-01-02 12:00:00') ";
    expect(plain(await rowsOf(analyst, `${sales}SELECT Product, AVG(SUM(revenue) GROUP BY DATE(time)) AS avg_daily_sales FROM Sales GROUP BY Product ORDER BY Product`)))
      .toEqual([{ Product: 'Apples', avg_daily_sales: 225 }, { Product: 'Oranges', avg_daily_sales: 90 }]);
    const staff = "WITH Employees AS (SELECT 1 AS empno, 150000 AS salary UNION ALL SELECT 2, 100000 UNION ALL SELECT 3, 80000), Dependents AS (SELECT 1 AS empno, 'Child' AS relationship UNION ALL SELECT 2, 'Child' UNION ALL SELECT 2, 'Child' UNION ALL SELECT 3, 'Child' UNION ALL SELECT 3, 'Child') ";
    // the reference's point: AVG(salary) over the join counts employees 2 and 3 twice (103,000); per employee it is 110,000
    expect(plain(await rowsOf(analyst, `${staff}SELECT AVG(ANY_VALUE(salary) GROUP BY empno) AS avg_salary FROM Employees INNER JOIN Dependents USING (empno) WHERE relationship = 'Child'`)))
      .toEqual([{ avg_salary: 110000 }]);
  });

  it('masks a column read through pipe SELECT / RENAME exactly as the standard form', async () => {
    const pipe = 'FROM shop.customers |> SELECT customer_id, email |> RENAME email AS contact |> ORDER BY customer_id |> LIMIT 20';
    const standard = 'SELECT customer_id, email AS contact FROM shop.customers ORDER BY customer_id LIMIT 20';
    const got = plain(await rowsOf(analyst, pipe));
    expect(Object.keys(got[0])).toEqual(['customer_id', 'contact']);
    expect(got).toEqual(plain(await rowsOf(analyst, standard)));
    const rawEmails = new Set(raw.map((r) => r.email));
    expect(got.filter((r: any) => rawEmails.has(r.contact))).toEqual([]);
  });

  it('the audit keeps the caller\'s pipe text beside the desugared, masked text sent upstream', async () => {
    const pipe = 'FROM shop.customers -- audited\n|> SELECT customer_id, email |> WHERE customer_id < 5';
    await rowsOf(analyst, pipe);
    const r = (await auditRequests(gw.dataDir)).find((x) => x.sql === pipe && x.upstream?.sql);
    expect(r, 'audit record of the pipe query').toBeDefined();
    const sent = r!.upstream!.sql!;
    console.log(`pipe query sent upstream as: ${sent.slice(0, 160)}`);
    expect(sent).not.toContain('|>');
    expect(sent).not.toContain('audited');
    expect(sent).toContain('SELECT customer_id, email FROM (SELECT'); // the desugared SELECT over the masking projection
    expect(sent).toContain('REGEXP_CONTAINS(`email`'); // EMAIL_MASK applied at the scan
  });

  it('the bq CLI runs a FROM-first pipe query', async () => {
    const r = await gw.bq(analyst, ['--format=json', 'query', '--nouse_legacy_sql', 'FROM shop.orders |> AGGREGATE COUNT(*) AS n']);
    expect(r.code, r.stderr).toBe(0);
    const [{ n }] = JSON.parse(r.stdout);
    const [[want]] = await gw.emulatorSdk().query({ query: 'SELECT COUNT(*) AS n FROM shop.orders', useLegacySql: false });
    expect(Number(n)).toBe(Number(want.n));
  });
});
