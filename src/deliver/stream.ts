/**
 * Streaming delivery of a jobs.query / getQueryResults page (issue 21): the upstream body is read
 * as it arrives and tokenized by stream-json's parser (`stream-json/core/parser.js`, packed values
 * only); the rows are written out as they are read, never held as a page of objects.
 *
 * What is touched:
 * - the top-level fields other than `rows` (kind, jobReference, jobComplete, totalRows, pageToken,
 *   schema, …: small) are assembled and go through the same allowlist as the object path
 *   (resources.ts `queryResponse`), so the answer has the same fields in the same order;
 * - each row is checked to be an f/v row (`{"f":[{"v":…},…]}`) and re-emitted cell by cell, in
 *   JSON.stringify's spelling (strings through JSON.stringify, numbers as JSON.parse then
 *   JSON.stringify would spell them), so a page is byte for byte what `JSON.stringify` of the
 *   object path's page is;
 * - the backstop (index.ts `scanCell`, detectors.ts) runs on the cells of the `scan` columns: each
 *   such cell alone is assembled, redacted and written; the schema must precede the rows then
 *   (BigQuery and the emulator send it first), else the page is refused;
 * - the row cap (`cap`: policy `maximum_rows` from row `start`) writes only the rows allowed, and
 *   the page token and totalRows follow jobs.ts `capRows`'s rules;
 * - the rows' digest (`rowsSha256`, the SHA-256 of the rows array as JSON.stringify spells it) and
 *   the first `sampleRows` rows (as delivered) are taken on the way, for the audit's delivery event.
 *
 * Bounds (fail closed, BigQueryError('backendError'), nothing delivered): more than `maxBytes`
 * upstream bytes (default 64 MiB; a single huge string counts in full), nesting deeper than
 * `maxDepth` (default 100: BigQuery nests STRUCTs at most 15 deep, three levels each in f/v), a
 * body that is not JSON, is cut short, or whose read fails; a row that is not f/v; two `rows` or
 * two `schema` keys. The page is complete in memory, as bytes, before anything is sent (the audit
 * is durable before the response leaves): at most about `maxBytes` of it.
 *
 * Sources: https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/getQueryResults,
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/query (response bodies).
 */
import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { jsonParser, type Token } from 'stream-json/core/parser.js';
import Assembler from 'stream-json/assembler.js';
import { none } from 'stream-chain/defs.js';
import { BigQueryError } from '../bigquery/errors.js';
import { queryResponse, schema as schemaOf } from './resources.js';
import { scanCell, type Detections } from './scan.js';

type Kind = 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse';
type Ref = { projectId: string; jobId?: string; location?: string };

export interface StreamOptions {
  kind: Kind;
  /** Top-level column indexes the backstop scans (the job's delivery plan). */
  scan?: number[];
  /** The job reference the caller knows, from the upstream's; default the upstream's own. */
  ref?: (upstream: { projectId?: string; jobId?: string; location?: string }) => Ref;
  /** The row cap: `max` rows in all, this page starting at row `start`. */
  cap?: { start: number; max: number };
  /** Rows kept as objects for the audit sample (default 100). */
  sampleRows?: number;
  maxBytes?: number;
  maxDepth?: number;
}

/** A page as delivered: its exact bytes and what the audit records of it. */
export interface StreamedPage {
  /** The exact bytes the caller receives (UTF-8 JSON). */
  payload: Buffer;
  /** The response without `rows` (kind, jobReference, jobComplete, totalRows, pageToken, schema, …). */
  head: Record<string, any>;
  /** Whether the page has a `rows` array (a complete job's page does); without one the audit records no delivery. */
  hasRows: boolean;
  /** Rows delivered in this page. */
  rows: number;
  /** SHA-256 (hex) of the delivered rows array as JSON.stringify spells it. */
  rowsSha256: string;
  /** The first `sampleRows` rows as delivered. */
  sample: unknown[];
  detections: Detections;
  /** With a row cap: the next page's token and first row, when there is a next page. */
  next?: { token: string; start: number };
}

const fail = (why: string) => new BigQueryError('backendError', `The upstream result page could not be delivered: ${why}. Nothing of it was sent; retry the request.`);

/** A JSON number token as JSON.parse then JSON.stringify spell it. */
const num = (raw: string) => JSON.stringify(Number(raw));

/** Writes one JSON value from tokens, JSON.stringify's spelling; `done` once the value is complete. */
class ValueWriter {
  out = '';
  private stack: number[] = []; // per open container: members written so far (objects count keys)
  private afterKey = false;
  done = false;

  private sep() {
    if (this.afterKey) { this.afterKey = false; return; }
    const n = this.stack.length;
    if (n && this.stack[n - 1]++ > 0) this.out += ',';
  }

  write(t: Token, maxDepth: number): void {
    switch (t.name) {
      case 'startObject': case 'startArray':
        this.sep(); this.out += t.name === 'startObject' ? '{' : '[';
        this.stack.push(0);
        if (this.stack.length > maxDepth) throw fail(`nesting deeper than ${maxDepth} levels`);
        return;
      case 'endObject': case 'endArray':
        this.out += t.name === 'endObject' ? '}' : ']';
        this.stack.pop();
        break;
      case 'keyValue': this.sep(); this.out += `${JSON.stringify(t.value)}:`; this.afterKey = true; return;
      case 'stringValue': this.sep(); this.out += JSON.stringify(t.value); break;
      case 'numberValue': this.sep(); this.out += num(t.value); break;
      case 'nullValue': this.sep(); this.out += 'null'; break;
      case 'trueValue': this.sep(); this.out += 'true'; break;
      case 'falseValue': this.sep(); this.out += 'false'; break;
      default: return;
    }
    if (this.stack.length === 0) this.done = true;
  }
}

/** A packed scalar token's value, or undefined for a container start. */
function scalar(t: Token): { v: unknown } | undefined {
  switch (t.name) {
    case 'stringValue': return { v: t.value };
    case 'numberValue': return { v: Number(t.value) };
    case 'nullValue': return { v: null };
    case 'trueValue': return { v: true };
    case 'falseValue': return { v: false };
    default: return undefined;
  }
}

/** A scalar token's JSON text as JSON.stringify spells it, or undefined for a container start. */
function scalarText(t: Token): string | undefined {
  switch (t.name) {
    case 'stringValue': return JSON.stringify(t.value);
    case 'numberValue': return num(t.value);
    case 'nullValue': return 'null';
    case 'trueValue': return 'true';
    case 'falseValue': return 'false';
    default: return undefined;
  }
}

/**
 * The row cap's effect on a page's head (jobs.ts `capRows`'s rules): totalRows says at most `max`,
 * the page token goes once the cap is reached; returns the next page's token and first row.
 */
export function capHead(head: Record<string, any>, rows: number, start: number, max: number): { token: string; start: number } | undefined {
  if (head.totalRows !== undefined && Number(head.totalRows) > max) head.totalRows = String(max);
  if (start + rows >= max) delete head.pageToken;
  else if (head.pageToken) return { token: head.pageToken, start: start + rows };
  return undefined;
}

/** The page's bytes: `head`'s JSON with the rows array (`rowsText`, without brackets) where `rows` goes. */
function assemble(head: Record<string, any>, rowsText: Buffer[] | undefined): Buffer {
  const before: Record<string, unknown> = {};
  const after: string[] = [];
  let seen = false;
  for (const [k, v] of Object.entries(head)) {
    if (k === 'rows') { seen = true; continue; }
    if (seen) { if (v !== undefined) after.push(`,${JSON.stringify(k)}:${JSON.stringify(v)}`); } else before[k] = v;
  }
  const open = JSON.stringify(before);
  if (!seen || !rowsText) return Buffer.from(open);
  return Buffer.concat([Buffer.from(`${open.slice(0, -1)}${open.length > 2 ? ',' : ''}"rows":[`), ...rowsText, Buffer.from(`]${after.join('')}}`)]);
}

/**
 * Reads an upstream jobs.query / getQueryResults body from `source` and returns the page as the
 * caller receives it (see the module comment). Throws BigQueryError('backendError') for the
 * failures listed there.
 */
export async function streamPage(source: AsyncIterable<Buffer | Uint8Array | string>, o: StreamOptions): Promise<StreamedPage> {
  const maxBytes = o.maxBytes ?? 64 * 2 ** 20;
  const maxDepth = o.maxDepth ?? 100;
  const sampleRows = o.sampleRows ?? 100;
  const scan = new Set(o.scan ?? []);
  const allowed = o.cap ? Math.max(0, o.cap.max - o.cap.start) : Infinity;
  const parse = jsonParser({ packValues: true, streamValues: false });
  const decoder = new StringDecoder('utf8');

  const top: Record<string, any> = Object.create(null);
  let fields: any[] | undefined; // the allowlisted schema fields, once the schema was read
  const detections: Detections = {};
  const rowsHash = createHash('sha256').update('[');
  const rowChunks: Buffer[] = [];
  const sample: unknown[] = [];
  let pending = ''; // rows text not yet turned into a Buffer
  let rows = 0;
  let sawRows = false;

  // Where the parse is: 0 before the body, 1 in the top object, 2 a top-level value, 3 in rows,
  // 4 in a row, 5 in its cells, 6 in a cell, 7 a cell's value; 8 after the body.
  let state = 0;
  let key = '';
  let asm: Assembler | undefined;
  let rowText = '';
  let rowKey = false;
  let cell = 0;
  let cellKey = false;
  let cellOut: ValueWriter | undefined;
  let cellAsm: Assembler | undefined;
  let wanted = false;

  /** Moves the rows text written so far into `rowChunks` and the digest (per 64 KiB, not per row: one hash update per chunk). */
  const flush = () => { rowsHash.update(pending); rowChunks.push(Buffer.from(pending)); pending = ''; };

  const endRow = () => {
    if (wanted) {
      rowText += ']}';
      pending += rows === 0 ? rowText : `,${rowText}`;
      if (pending.length > 65536) flush();
      if (sample.length < sampleRows) sample.push(JSON.parse(rowText));
      rows++;
    }
  };

  /** Writes the current cell; `value` its JSON text, undefined for a cell without `v` (`{}`, as JSON.stringify spells `{v: undefined}`). */
  const writeCell = (value: string | undefined) => { if (wanted) rowText += `${cell > 0 ? ',' : ''}${value === undefined ? '{}' : `{"v":${value}}`}`; };
  const cellValue = (v: unknown) => {
    const f = fields?.[cell];
    writeCell(JSON.stringify(f ? scanCell(v, f, detections) : v));
  };

  const step = (t: Token) => {
    switch (state) {
      case 0:
        if (t.name !== 'startObject') throw fail('the body is not a JSON object');
        state = 1; return;
      case 1:
        if (t.name === 'endObject') { state = 8; return; }
        if (t.name !== 'keyValue') return;
        key = t.value; state = 2; return;
      case 2: {
        if (key === 'rows' && t.name === 'startArray') {
          if (sawRows) throw fail('the page has two `rows` arrays');
          sawRows = true;
          if (scan.size && !fields) throw fail('the rows came before the schema, and the backstop needs the schema to scan them');
          state = 3; return;
        }
        if (asm) {
          asm.consume(t);
          if (asm.depth > maxDepth) throw fail(`nesting deeper than ${maxDepth} levels`);
          if (asm.done) { top[key] = asm.current; asm = undefined; afterTop(); }
          return;
        }
        const s = scalar(t);
        if (s) { top[key] = s.v; afterTop(); return; }
        if (t.name === 'startObject' || t.name === 'startArray') { asm = new Assembler(); asm.consume(t); }
        return;
      }
      case 3:
        if (t.name === 'endArray') { state = 1; return; }
        if (t.name !== 'startObject') throw fail('a row is not an object');
        wanted = rows < allowed; rowText = '{"f":['; rowKey = false; state = 4; return;
      case 4:
        if (t.name === 'keyValue' && t.value === 'f' && !rowKey) { rowKey = true; return; }
        if (t.name === 'startArray' && rowKey) { cell = 0; state = 5; return; }
        if (t.name === 'endObject' && rowKey) { endRow(); state = 3; return; }
        throw fail('a row is not f/v encoded ({"f":[…]})');
      case 5:
        if (t.name === 'endArray') { state = 4; return; }
        if (t.name !== 'startObject') throw fail('a cell is not an object ({"v":…})');
        cellKey = false; state = 6; return;
      case 6:
        if (t.name === 'keyValue' && t.value === 'v' && !cellKey) { cellKey = true; state = 7; return; }
        if (t.name === 'endObject') { if (!cellKey) writeCell(undefined); cell++; state = 5; return; }
        throw fail('a cell is not f/v encoded ({"v":…})');
      case 7:
        if (wanted && scan.has(cell)) {
          if (!cellAsm) {
            const s = scalar(t);
            if (s) { cellValue(s.v); state = 6; return; }
            cellAsm = new Assembler();
          }
          cellAsm.consume(t);
          if (cellAsm.depth > maxDepth) throw fail(`nesting deeper than ${maxDepth} levels`);
          if (cellAsm.done) { cellValue(cellAsm.current); cellAsm = undefined; state = 6; }
          return;
        }
        if (!cellOut) {
          // A scalar cell (f/v sends every scalar as a string or null) is written at once; a container (ARRAY, STRUCT) goes through a ValueWriter.
          const text = scalarText(t);
          if (text !== undefined) { writeCell(text); state = 6; return; }
          cellOut = new ValueWriter();
        }
        cellOut.write(t, maxDepth);
        if (cellOut.done) { writeCell(cellOut.out); cellOut = undefined; state = 6; }
        return;
      case 8:
        throw fail('there is more after the JSON body');
    }
  };

  /** After a top-level value: the schema, once read, fixes the fields the backstop scans by. */
  const afterTop = () => {
    state = 1;
    if (key !== 'schema') return;
    // One schema: the rows are scanned by the one the caller receives.
    if (fields) throw fail('the page has two schemas');
    if (top.schema && typeof top.schema === 'object') fields = schemaOf(top.schema).fields;
  };

  let bytes = 0;
  const feed = (text: string) => {
    const r = parse(text) as unknown;
    if (r === none) return;
    for (const t of (r as { values: Token[] }).values) step(t);
  };
  try {
    for await (const chunk of source) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bytes += b.byteLength;
      if (bytes > maxBytes) throw fail(`the upstream page is larger than ${maxBytes} bytes`);
      feed(decoder.write(b as Buffer));
    }
    feed(decoder.end());
  } catch (err) {
    if (err instanceof BigQueryError) throw err;
    throw fail(`the body could not be read (${(err as Error).message ?? 'error'})`);
  }
  try {
    const r = parse(none as never) as unknown;
    if (r !== none) for (const t of (r as { values: Token[] }).values) step(t);
  } catch (err) {
    if (err instanceof BigQueryError) throw err;
    throw fail(`the body was cut short (${(err as Error).message ?? 'error'})`);
  }
  if (state !== 8) throw fail('the body was cut short');

  if (sawRows) top.rows = [];
  const up = top.jobReference && typeof top.jobReference === 'object' ? top.jobReference : {};
  const ref = o.ref ? o.ref(up) : { projectId: String(up.projectId ?? ''), ...(up.jobId ? { jobId: String(up.jobId) } : {}), ...(up.location ? { location: String(up.location) } : {}) };
  const head = queryResponse(top, o.kind, ref);
  const delivered = Array.isArray(head.rows);
  const count = delivered ? rows : 0;
  const next = o.cap && head.jobComplete ? capHead(head, count, o.cap.start, o.cap.max) : undefined;
  if (pending) flush();
  const payload = assemble(head, delivered ? rowChunks : undefined);
  delete head.rows;
  return {
    payload, head, hasRows: delivered, rows: count, rowsSha256: rowsHash.update(']').digest('hex'),
    sample: delivered ? sample : [], detections: delivered ? detections : {}, ...(next ? { next } : {}),
  };
}

/** The audit's digest of a streamed page's rows (audit/request.ts `DeliveredRows`). */
export interface RowsDigest { count: number; sha256: string; sample: unknown[] }

/**
 * What the pipeline hashes, records and sends for an operation's outcome: a streamed page's bytes
 * and rows digest as they are, else the body serialized once (JSON.stringify).
 */
export function sentPage(out: { body: unknown; streamed?: StreamedPage }): { body: unknown; payload: string | Buffer; rows?: RowsDigest } {
  const p = out.streamed;
  if (!p) return { body: out.body, payload: JSON.stringify(out.body) };
  return { body: p.head, payload: p.payload, ...(p.hasRows ? { rows: { count: p.rows, sha256: p.rowsSha256, sample: p.sample } } : {}) };
}
