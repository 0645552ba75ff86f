/**
 * The BigQuery REST answer (schema + f/v rows, https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/getQueryResults)
 * rendered as the GoogleSQL docs print results, and the comparison of a rendered cell with a
 * printed one. Tolerance is only what the printing itself leaves open:
 * - FLOAT64: equal within 1e-9 relative, or the printed text is the value rounded to the digits
 *   printed (`0.3333` for 1/3); `inf`/`Infinity`, `nan`/`NaN` alike;
 * - NUMERIC/BIGNUMERIC: equal as decimals (`1.50` = `1.5`);
 * - TIMESTAMP: the same instant (`2008-12-25 15:30:00+00` = `2008-12-25 15:30:00 UTC` =
 *   `2008-12-25 07:30:00.000 America/Los_Angeles`: some pages print in that zone);
 * - JSON: the same JSON value (object member order is not part of it);
 * - BYTES: base64 (BigQuery's REST form) or the escaped text the pages print (`\xb1\n…`);
 * - BOOL: `true` = `TRUE` = `True` (the pages print all three);
 * - quoting inside arrays and structs: the docs print `["a", "b"]` on some pages and `[a, b]` on
 *   others, so `"`/`'` around elements are not compared.
 * - STRUCT: bare values (`{1, 2}`) or with the field names, as the pages print them either way:
 *   `{x: 1, y: 2}` (query syntax) or `{blue color, round shape}` (operators); in an ARRAY or STRUCT,
 *   blanks after commas and inside brackets (`[a,b]` = `[a, b]`, `{ {…} }` = `{{…}}`);
 * - NUL: a STRING's U+0000 prints as nothing (`CHR(0)`), so it is not compared;
 * - RANGE: bound by bound as its element type; the pages print a bound bare or as a typed literal
 *   (`DATE '2020-01-01'`), and a DATETIME with a space or a `T` (both in one value on the RANGE page).
 * Row order is compared only when the statement orders its result (the caller decides).
 */
export interface RestField { name: string; type: string; mode?: string; fields?: RestField[]; rangeElementType?: { type: string } }
type Cell = { v: unknown };

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `YYYY-MM-DD HH:MM:SS[.ffffff]+00` of epoch microseconds. */
export function timestampText(micros: bigint): string {
  const frac0 = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const d = new Date(Number((micros - frac0) / 1000n));
  const frac = frac0;
  const base = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `${base}${frac ? `.${String(frac).padStart(6, '0').replace(/0+$/, '')}` : ''}+00`;
}

function micros(v: string): bigint {
  if (/^-?\d+$/.test(v)) return BigInt(v);
  return BigInt(Math.round(Number(v) * 1e6));
}

/** How a STRUCT prints: its values only, `name: value`, or `value name` (header above). */
export type StructStyle = 'bare' | 'colon' | 'suffix';

/** One REST cell as the docs print it. */
export function render(v: unknown, f: RestField, inner = false, style: StructStyle = 'bare'): string {
  if (f.mode === 'REPEATED') {
    const items = (v as Cell[] | null) ?? [];
    return `[${items.map((c) => render(c.v, { ...f, mode: 'NULLABLE' }, true, style)).join(', ')}]`;
  }
  if (v === null || v === undefined) return 'NULL';
  if (f.type === 'RECORD' || f.type === 'STRUCT') {
    const cells = (v as { f: Cell[] }).f;
    const named = (c: Cell, i: number) => { const x = render(c.v, f.fields![i], true, style); const n = f.fields![i].name; return style === 'colon' ? `${n}: ${x}` : style === 'suffix' ? `${x} ${n}` : x; };
    return `{${cells.map(named).join(', ')}}`;
  }
  const s = String(v);
  if (f.type === 'RANGE') return renderRange(s, f.rangeElementType?.type ?? '');
  if (f.type === 'TIMESTAMP') return timestampText(micros(s));
  if (f.type === 'STRING' && inner) return `"${s}"`;
  return s;
}

const unquote = (s: string) => s.replace(/["']/g, '').replace(/\s+/g, ' ').trim();
/** An ARRAY or STRUCT as printed, quotes and the blanks around commas and brackets dropped. */
const compact = (s: string) => unquote(s).replace(/\s*([,[\]{}])\s*/g, '$1');

function floatEq(got: string, doc: string): boolean {
  const norm = (x: string) => x.replace(/^\+?inf(inity)?$/i, 'Infinity').replace(/^-inf(inity)?$/i, '-Infinity').replace(/^nan$/i, 'NaN');
  const a = Number(norm(got)); const b = Number(norm(doc));
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) && norm(got) === 'NaN' && norm(doc) === 'NaN';
  if (a === b) return true;
  if (Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b))) return true;
  const m = /^-?\d*\.(\d+)$/.exec(doc.trim());
  if (m) return Math.abs(a - b) <= 0.5 * 10 ** -m[1].length + 1e-12 * Math.abs(b);
  const e = /^-?(\d)\.(\d+)e[-+]?\d+$/i.exec(doc.trim());
  if (e) return Math.abs(a - b) <= 0.5 * 10 ** -e[2].length * Math.abs(b) * 10;
  return false;
}

/** Offset (ms) of IANA zone `zone` at the instant `utcMs` (by Intl, as the docs print e.g. `America/Los_Angeles`). */
function zoneOffset(zone: string, utcMs: number): number {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    .formatToParts(new Date(utcMs)).map((x) => [x.type, x.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(utcMs / 1000) * 1000;
}

function docInstant(doc: string): bigint | undefined {
  const named = /^(\d{4}-\d{2}-\d{2}) (\d{1,2}:\d{2}:\d{2})(?:\.(\d+))? ([A-Za-z]+\/[A-Za-z_]+)$/.exec(doc.trim());
  if (named) {
    const local = Date.parse(`${named[1]}T${named[2].padStart(8, '0')}Z`);
    let utc = local - zoneOffset(named[4], local);
    utc = local - zoneOffset(named[4], utc);
    return BigInt(utc) * 1000n + BigInt(((named[3] ?? '') + '000000').slice(0, 6));
  }
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}:\d{2}(?:\.\d+)?)\s*(UTC|[+-]\d{2}(?::?\d{2})?|Z)?$/.exec(doc.trim());
  if (!m) return undefined;
  const zone = !m[3] || m[3] === 'UTC' || m[3] === 'Z' ? '+00:00' : m[3].length === 3 ? `${m[3]}:00` : m[3].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const [hms, frac = ''] = m[2].split('.');
  const t = Date.parse(`${m[1]}T${hms.padStart(8, '0')}${zone}`);
  if (Number.isNaN(t)) return undefined;
  return BigInt(t) * 1000n + BigInt((frac + '000000').slice(0, 6));
}

function jsonEq(got: string, doc: string): boolean {
  try { return deepEq(JSON.parse(got), JSON.parse(doc)); } catch { return false; }
}
function deepEq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return typeof a === 'number' && typeof b === 'number' && floatEq(String(a), String(b));
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object); const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => deepEq((a as any)[k], (b as any)[k]));
}

/** A REST RANGE cell `[lo, hi)` with TIMESTAMP bounds (µs or seconds) printed as the docs print TIMESTAMPs. */
function renderRange(s: string, element: string): string {
  const b = rangeBounds(s);
  if (!b || element !== 'TIMESTAMP') return s;
  return `[${b.map((x) => (x === 'UNBOUNDED' ? x : timestampText(micros(x)))).join(', ')})`;
}

/** The two bounds of a printed RANGE `[lo, hi)`, typed-literal prefixes and quotes dropped. */
function rangeBounds(s: string): [string, string] | undefined {
  const m = /^\[\s*(.*?)\s*,\s*(.*?)\s*\)$/.exec(s.trim());
  const bare = (x: string) => x.replace(/^(?:DATE|DATETIME|TIMESTAMP)\s+'(.*)'$/, '$1');
  return m ? [bare(m[1]), bare(m[2])] : undefined;
}

function rangeEq(got: string, doc: string, element: string): boolean {
  const g = rangeBounds(got); const d = rangeBounds(doc);
  const civil = (x: string) => x.replace('T', ' ').replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  return !!g && !!d && g.every((x, i) => (x === 'UNBOUNDED' || d[i] === 'UNBOUNDED' ? x === d[i]
    : element === 'DATETIME' ? civil(x) === civil(d[i]) : cellEq(x, d[i], { name: '', type: element })));
}

/** Whether the rendered cell `got` (of type `f`) is what the docs printed as `doc`. */
export function cellEq(got: string, doc: string, f: RestField): boolean {
  if (got === doc) return true;
  if (f.mode !== 'REPEATED') {
    if (doc === 'NULL' || got === 'NULL') return false;
    if (f.type === 'FLOAT' || f.type === 'FLOAT64') return floatEq(got, doc);
    if (f.type === 'NUMERIC' || f.type === 'BIGNUMERIC' || f.type === 'BIGDECIMAL') return floatEq(got, doc) && decimalEq(got, doc);
    if (f.type === 'TIMESTAMP') { const t = docInstant(doc); return t !== undefined && timestampText(t) === got; }
    if (f.type === 'JSON') return jsonEq(got, doc);
    if (f.type === 'RANGE') return rangeEq(got, doc, f.rangeElementType?.type ?? '');
    if (f.type === 'BOOLEAN' || f.type === 'BOOL') return got === doc.toLowerCase();
    if (f.type === 'BYTES') { const e = [escapedBytes(got), escapedBytes(got, true)]; return e.some((x) => x === doc || `b"${x}"` === doc || `b'${x}'` === doc); }
  }
  if (f.mode === 'REPEATED' || f.type === 'RECORD' || f.type === 'STRUCT') return compact(got) === compact(doc);
  if (f.type === 'STRING' && got.includes('\u0000')) return unquote(got.replace(/\u0000/g, '')) === unquote(doc);
  return unquote(got) === unquote(doc);
}

function decimalEq(a: string, b: string): boolean {
  const n = (x: string) => { const [i, fr = ''] = x.trim().split('.'); return `${i.replace(/^(-?)0+(?=\d)/, '$1')}.${fr.replace(/0+$/, '')}`; };
  return n(a) === n(b) || Math.abs(Number(a) - Number(b)) <= 0.5 * 10 ** -((b.split('.')[1] ?? '').length);
}

/** One case of test/cases/docs/*.yaml (scripts/docs-cases/extract.ts). */
export interface DocCase { id: string; url: string; sql: string; columns: string[]; rows: string[][]; skip?: string }

/** Whether the statement orders its final result: an ORDER BY outside every parenthesis. */
export function ordered(sql: string): boolean {
  const code = sql.replace(/--.*$/gm, '').replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''");
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    if (code[i] === '(') depth++;
    else if (code[i] === ')') depth--;
    else if (depth === 0 && /^ORDER\s+BY\b/i.test(code.slice(i, i + 12)) && !/\w/.test(code[i - 1] ?? '')) return true;
  }
  return false;
}

/** One array or JSON cell the page prints over several lines (`[` or `{`, one element per line, `]` or `}`: GENERATE_RANGE_ARRAY, pretty TO_JSON_STRING), as one row. */
function arrayOverLines(rows: string[][]): string[][] {
  const [open, close] = [rows[0]?.[0], rows[rows.length - 1]?.[0]];
  if (rows.length < 2 || rows.some((r) => r.length !== 1) || !((open === '[' && close === ']') || (open === '{' && close === '}'))) return rows;
  return open === '[' ? [[`[${rows.slice(1, -1).map((r) => r[0]).join(' ').replace(/,$/, '')}]`]] : [[rows.map((r) => r[0]).join(' ')]];
}

/** Compares the REST answer with the documented table; undefined when equal, else what differs. */
export function compare(c0: DocCase, fields: RestField[], raw: Array<{ f: Array<{ v: unknown }> }>): string | undefined {
  const c = { ...c0, rows: arrayOverLines(c0.rows) };
  if (fields.length !== c.columns.length) return `columns: got ${fields.map((f) => f.name).join(', ')}; documented ${c.columns.join(', ')}`;
  const got = raw.map((r) => r.f.map((cell, i) => render(cell.v, fields[i])));
  const styled = (style: StructStyle) => raw.map((r) => r.f.map((cell, i) => render(cell.v, fields[i], false, style)));
  const [colon, suffix] = [styled('colon'), styled('suffix')];
  const show = (rows: string[][]) => rows.map((r) => r.join(' | ')).join(' / ');
  if (got.length !== c.rows.length) return `rows: got ${got.length} (${show(got).slice(0, 400)}); documented ${c.rows.length} (${show(c.rows).slice(0, 400)})`;
  // a cell matches as printed bare or with its STRUCT field names (row index r)
  const rowEq = (g: string[], d: string[], r = got.indexOf(g)) => g.every((v, i) => cellEq(v, d[i], fields[i]) || cellEq(colon[r][i], d[i], fields[i]) || cellEq(suffix[r][i], d[i], fields[i]));
  if (ordered(c.sql)) {
    const bad = got.findIndex((g, i) => !rowEq(g, c.rows[i]));
    return bad < 0 ? undefined : `row ${bad + 1}: got ${got[bad].join(' | ')}; documented ${c.rows[bad].join(' | ')}`;
  }
  const left = [...c.rows];
  for (const g of got) {
    const at = left.findIndex((d) => rowEq(g, d));
    if (at < 0) return `row not documented: ${g.join(' | ')} (documented: ${show(c.rows).slice(0, 400)})`;
    left.splice(at, 1);
  }
  return undefined;
}


/** Base64 BYTES as the pages print them: printable ASCII as is, `\n` `\t` `\r` `\\`, other bytes `\xhh` (or `\ooo` when `octal`: some pages print that). */
export function escapedBytes(b64: string, octal = false): string {
  let out = '';
  for (const c of Buffer.from(b64, 'base64')) {
    out += c === 10 ? '\\n' : c === 9 ? '\\t' : c === 13 ? '\\r' : c === 92 ? '\\\\' : c >= 32 && c < 127 ? String.fromCharCode(c) : (octal ? `\\${c.toString(8).padStart(3, '0')}` : `\\x${c.toString(16).padStart(2, '0')}`);
  }
  return out;
}
