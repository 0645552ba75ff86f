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
 *   JSON.stringify's spelling (a string between quotes as it is when it has no character
 *   JSON.stringify escapes, else through JSON.stringify; numbers as JSON.parse then JSON.stringify
 *   would spell them), so a page is byte for byte what `JSON.stringify` of the object path's page is;
 * - the backstop (index.ts `scanCell`, detectors.ts) runs on the cells of the `scan` columns: each
 *   such cell alone is assembled, redacted and written; the schema must precede the rows then
 *   (BigQuery and the emulator send it first), else the page is refused;
 * - the row cap (`cap`: policy `maximum_rows` from row `start`) writes only the rows allowed, and
 *   the page token and totalRows follow jobs.ts `capRows`'s rules;
 * - the rows' digest (`rowsSha256`, the SHA-256 of the rows array as JSON.stringify spells it) and
 *   the first `sampleRows` rows (as delivered) are taken on the way, for the audit's delivery event.
 *
 * Cost (bench/stream-page.ts): per row, stream-json's tokenizer (the largest share of the CPU),
 * then the token loop, which appends the rows text to a string that is encoded into 64 KiB chunks
 * and hashed per chunk. What a page holds is that text (in chunks) and, at the end, the payload
 * (both about the page's size), the head, and the sample; between pages, up to 4 MiB of spare
 * chunks stay for the next page (`CHUNK`).
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

/** The rows text is encoded (UTF-8) into the page's chunks per this many UTF-16 units, not per row. */
const FLUSH = 65536;
/**
 * The rows text is held in chunks of CHUNK bytes, and a page's chunks, once its payload copied
 * them, are kept for later pages (at most SPARE_MAX of them, 4 MiB): a new 64 KiB Buffer per chunk
 * (fresh memory to fault in, then garbage that only a full GC frees, as V8 counts it as external
 * memory) cost more than the rows' own text. The payload is always a copy of exactly the bytes
 * written (`finish`'s views), never a spare chunk itself.
 */
const CHUNK = 65536;
const SPARE_MAX = 64;
const spare: Buffer[] = [];
const utf8 = new TextEncoder();

/**
 * A character JSON.stringify writes other than as itself: `"`, `\`, U+0000–U+001F (escaped) and
 * the UTF-16 surrogates (a lone one is escaped as `\uXXXX`; a pair is kept, but is left to
 * JSON.stringify to tell apart). A string without any is spelled `"` + s + `"`. Written as the
 * complement of the characters kept (U+0020, U+0021, U+0023–U+005B, U+005D–U+D7FF, U+E000–U+FFFF):
 * the same set as `["\\\u0000-\u001f\ud800-\udfff]`, a third faster to test on ASCII text.
 * https://tc39.es/ecma262/#sec-quotejsonstring
 */
const ESCAPED = /[^ !#-\[\]-\ud7ff\ue000-\uffff]/;

/**
 * The parse's state between tokens: where the parse is, the head read so far, and the rows text.
 * A class with fields (not a closure over `let`s): one token loop reads them as object properties.
 */
class PageReader {
  // Where the parse is: 0 before the body, 1 in the top object, 2 a top-level value, 3 in rows,
  // 4 in a row, 5 in its cells, 6 in a cell, 7 a cell's value; 8 after the body.
  state = 0;
  key = '';
  top: Record<string, any> = Object.create(null);
  fields: any[] | undefined; // the allowlisted schema fields, once the schema was read
  detections: Detections = {};
  sample: unknown[] = [];
  rows = 0;
  sawRows = false;
  private readonly hash = createHash('sha256').update('[');
  private readonly chunks: Buffer[] = [];
  private readonly lengths: number[] = []; // bytes held by each full chunk
  private used = -1; // bytes used in the last chunk, -1 when it is full
  private pending = ''; // rows text not yet encoded into the chunks
  private before: string | undefined; // for a row kept in the sample: `pending` before it (the row is written to a fresh `pending`)
  private asm: Assembler | undefined;
  private rowKey = false;
  private cell = 0;
  private cellKey = false;
  private cellOut: ValueWriter | undefined;
  private cellAsm: Assembler | undefined;
  private wanted = false;
  private readonly scanAny: boolean;

  constructor(private readonly scan: Set<number>, private readonly allowed: number, private readonly sampleRows: number, private readonly maxDepth: number) {
    this.scanAny = scan.size > 0;
  }

  /** Encodes the rows text written so far (UTF-8) into the page's chunks, hashing each chunk once it is full. */
  private flush() {
    let rest = this.pending;
    this.pending = '';
    for (;;) {
      let c = this.chunks[this.chunks.length - 1];
      if (!c || this.used === -1) { c = spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK); this.chunks.push(c); this.used = 0; }
      const { read, written } = utf8.encodeInto(rest, c.subarray(this.used));
      this.used += written;
      if (read === rest.length) return;
      // The chunk is full (a character that did not fit leaves up to 3 bytes unused): hash what it holds, go on in the next one.
      this.lengths.push(this.used); this.hash.update(c.subarray(0, this.used)); this.used = -1;
      rest = rest.slice(read);
    }
  }

  /** The rows text (without brackets) as Buffer views, and the SHA-256 (hex) of `[`, it, `]`. */
  finish(): { parts: Buffer[]; sha256: string } {
    if (this.pending) this.flush();
    if (this.used > 0) { const c = this.chunks[this.chunks.length - 1]; this.lengths.push(this.used); this.hash.update(c.subarray(0, this.used)); this.used = -1; }
    return { parts: this.lengths.map((n, i) => this.chunks[i].subarray(0, n)), sha256: this.hash.update(']').digest('hex') };
  }

  /** Gives the page's chunks back for later pages (after the payload copied them). */
  release() {
    for (const c of this.chunks) if (spare.length < SPARE_MAX) spare.push(c);
    this.chunks.length = 0;
  }

  private endRow() {
    this.pending += ']}';
    if (this.before !== undefined) {
      // The sampled row is parsed from its own text: a slice of `pending` would flatten all of it,
      // and the sample's strings could keep that copy alive.
      this.sample.push(JSON.parse(this.pending));
      this.pending = this.before + this.pending;
      this.before = undefined;
    }
    this.rows++;
    if (this.pending.length > FLUSH) this.flush();
  }

  /** Writes the current cell; `value` its JSON text (JSON.stringify's spelling). */
  private writeCell(value: string) {
    this.pending += this.cell > 0 ? `,{"v":${value}}` : `{"v":${value}}`;
  }

  /**
   * Writes the current cell of string `s`, as JSON.stringify(s) spells it: between quotes as it is
   * when nothing in it is escaped (no `"`, `\`, control character or surrogate), else through
   * JSON.stringify. Three appends, no intermediate string.
   */
  private writeString(s: string) {
    if (ESCAPED.test(s)) { this.writeCell(JSON.stringify(s)); return; }
    this.pending += this.cell > 0 ? ',{"v":"' : '{"v":"';
    this.pending += s;
    this.pending += '"}';
  }

  /** A cell without `v`: `{}`, as JSON.stringify spells `{v: undefined}`. */
  private writeEmpty() {
    this.pending += this.cell > 0 ? ',{}' : '{}';
  }

  private cellValue(v: unknown) {
    const f = this.fields?.[this.cell];
    const out = f ? scanCell(v, f, this.detections) : v;
    if (typeof out === 'string') this.writeString(out); else this.writeCell(JSON.stringify(out));
  }

  /** Applies a batch of tokens, in order. */
  tokens(values: Token[]) {
    for (let i = 0; i < values.length; i++) {
      const t = values[i];
      switch (this.state) {
        case 5: // in a row's cells: a cell starts, or the cells end
          if (t.name === 'startObject') {
            // The common cells, `{"v":"…"}` and `{"v":null}`, whole in this batch: written at once
            // (a string of a scanned column through the backstop).
            if (i + 3 < values.length && this.wanted) {
              const k = values[i + 1], v = values[i + 2];
              if (k.name === 'keyValue' && k.value === 'v' && values[i + 3].name === 'endObject') {
                if (v.name === 'stringValue') {
                  if (this.scanAny && this.scan.has(this.cell)) this.cellValue(v.value); else this.writeString(v.value);
                  this.cell++; i += 3; continue;
                }
                if (v.name === 'nullValue') { this.writeCell('null'); this.cell++; i += 3; continue; }
              }
            }
            this.cellKey = false; this.state = 6; continue;
          }
          if (t.name === 'endArray') { this.state = 4; continue; }
          throw fail('a cell is not an object ({"v":…})');
        case 6:
          if (t.name === 'keyValue' && t.value === 'v' && !this.cellKey) { this.cellKey = true; this.state = 7; continue; }
          if (t.name === 'endObject') { if (!this.cellKey && this.wanted) this.writeEmpty(); this.cell++; this.state = 5; continue; }
          throw fail('a cell is not f/v encoded ({"v":…})');
        case 7:
          this.cellToken(t);
          continue;
        default:
          this.step(t);
      }
    }
  }

  /** A token of a cell's value (state 7). */
  private cellToken(t: Token) {
    if (!this.wanted) {
      // A row past the cap: only its shape and depth are checked, nothing is written.
      if (!this.cellOut) {
        if (t.name !== 'startObject' && t.name !== 'startArray') { this.state = 6; return; }
        this.cellOut = new ValueWriter();
      }
      this.cellOut.write(t, this.maxDepth);
      if (this.cellOut.done) { this.cellOut = undefined; this.state = 6; }
      return;
    }
    if (this.scanAny && this.scan.has(this.cell)) {
      if (!this.cellAsm) {
        const s = scalar(t);
        if (s) { this.cellValue(s.v); this.state = 6; return; }
        this.cellAsm = new Assembler();
      }
      this.cellAsm.consume(t);
      if (this.cellAsm.depth > this.maxDepth) throw fail(`nesting deeper than ${this.maxDepth} levels`);
      if (this.cellAsm.done) { this.cellValue(this.cellAsm.current); this.cellAsm = undefined; this.state = 6; }
      return;
    }
    if (!this.cellOut) {
      // A scalar cell (f/v sends every scalar as a string or null) is written at once; a container (ARRAY, STRUCT) goes through a ValueWriter.
      if (t.name === 'stringValue') { this.writeString(t.value); this.state = 6; return; }
      const text = scalarText(t);
      if (text !== undefined) { this.writeCell(text); this.state = 6; return; }
      this.cellOut = new ValueWriter();
    }
    this.cellOut.write(t, this.maxDepth);
    if (this.cellOut.done) { this.writeCell(this.cellOut.out); this.cellOut = undefined; this.state = 6; }
  }

  /** A token outside a row's cells (states 0–4 and 8). */
  private step(t: Token) {
    switch (this.state) {
      case 0:
        if (t.name !== 'startObject') throw fail('the body is not a JSON object');
        this.state = 1; return;
      case 1:
        if (t.name === 'endObject') { this.state = 8; return; }
        if (t.name !== 'keyValue') return;
        this.key = t.value; this.state = 2; return;
      case 2: {
        if (this.key === 'rows' && t.name === 'startArray') {
          if (this.sawRows) throw fail('the page has two `rows` arrays');
          this.sawRows = true;
          if (this.scanAny && !this.fields) throw fail('the rows came before the schema, and the backstop needs the schema to scan them');
          this.state = 3; return;
        }
        if (this.asm) {
          this.asm.consume(t);
          if (this.asm.depth > this.maxDepth) throw fail(`nesting deeper than ${this.maxDepth} levels`);
          if (this.asm.done) { this.top[this.key] = this.asm.current; this.asm = undefined; this.afterTop(); }
          return;
        }
        const s = scalar(t);
        if (s) { this.top[this.key] = s.v; this.afterTop(); return; }
        if (t.name === 'startObject' || t.name === 'startArray') { this.asm = new Assembler(); this.asm.consume(t); }
        return;
      }
      case 3:
        if (t.name === 'endArray') { this.state = 1; return; }
        if (t.name !== 'startObject') throw fail('a row is not an object');
        this.wanted = this.rows < this.allowed;
        if (this.wanted) {
          if (this.rows > 0) this.pending += ',';
          if (this.sample.length < this.sampleRows) { this.before = this.pending; this.pending = ''; }
          this.pending += '{"f":[';
        }
        this.rowKey = false; this.state = 4; return;
      case 4:
        if (t.name === 'keyValue' && t.value === 'f' && !this.rowKey) { this.rowKey = true; return; }
        if (t.name === 'startArray' && this.rowKey) { this.cell = 0; this.state = 5; return; }
        if (t.name === 'endObject' && this.rowKey) { if (this.wanted) this.endRow(); this.state = 3; return; }
        throw fail('a row is not f/v encoded ({"f":[…]})');
      case 8:
        throw fail('there is more after the JSON body');
    }
  }

  /** After a top-level value: the schema, once read, fixes the fields the backstop scans by. */
  private afterTop() {
    this.state = 1;
    if (this.key !== 'schema') return;
    // One schema: the rows are scanned by the one the caller receives.
    if (this.fields) throw fail('the page has two schemas');
    if (this.top.schema && typeof this.top.schema === 'object') this.fields = schemaOf(this.top.schema).fields;
  }
}

/**
 * Reads an upstream jobs.query / getQueryResults body from `source` and returns the page as the
 * caller receives it (see the module comment). Throws BigQueryError('backendError') for the
 * failures listed there.
 */
export async function streamPage(source: AsyncIterable<Buffer | Uint8Array | string>, o: StreamOptions): Promise<StreamedPage> {
  const maxBytes = o.maxBytes ?? 64 * 2 ** 20;
  const allowed = o.cap ? Math.max(0, o.cap.max - o.cap.start) : Infinity;
  const r = new PageReader(new Set(o.scan ?? []), allowed, o.sampleRows ?? 100, o.maxDepth ?? 100);
  const parse = jsonParser({ packValues: true, streamValues: false });
  const decoder = new StringDecoder('utf8');

  let bytes = 0;
  const feed = (text: string) => {
    const out = parse(text) as unknown;
    if (out !== none) r.tokens((out as { values: Token[] }).values);
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
    const out = parse(none as never) as unknown;
    if (out !== none) r.tokens((out as { values: Token[] }).values);
  } catch (err) {
    if (err instanceof BigQueryError) throw err;
    throw fail(`the body was cut short (${(err as Error).message ?? 'error'})`);
  }
  if (r.state !== 8) throw fail('the body was cut short');

  const top = r.top;
  if (r.sawRows) top.rows = [];
  const up = top.jobReference && typeof top.jobReference === 'object' ? top.jobReference : {};
  const ref = o.ref ? o.ref(up) : { projectId: String(up.projectId ?? ''), ...(up.jobId ? { jobId: String(up.jobId) } : {}), ...(up.location ? { location: String(up.location) } : {}) };
  const head = queryResponse(top, o.kind, ref);
  const delivered = Array.isArray(head.rows);
  const count = delivered ? r.rows : 0;
  const next = o.cap && head.jobComplete ? capHead(head, count, o.cap.start, o.cap.max) : undefined;
  const { parts, sha256 } = r.finish();
  const payload = assemble(head, delivered ? parts : undefined);
  r.release();
  delete head.rows;
  return {
    payload, head, hasRows: delivered, rows: count, rowsSha256: sha256,
    sample: delivered ? r.sample : [], detections: delivered ? r.detections : {}, ...(next ? { next } : {}),
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
