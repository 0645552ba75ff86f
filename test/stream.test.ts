/**
 * Streaming delivery (src/deliver/stream.ts, issue 21): a page read token by token is byte for byte
 * what the object path (deliverPage + the row cap, JSON.stringify) delivers — backstop, row cap,
 * page token, incomplete jobs — for bodies fed in small chunks that split UTF-8 characters; and an
 * upstream body that is hostile (a huge string, deep nesting, cut short, failing mid-read, not f/v)
 * is refused with backendError, nothing of it delivered.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { deliverPage, streamPage, capHead, type StreamOptions } from '../src/deliver/index.ts';
import { BigQueryError } from '../src/bigquery/errors.ts';

const KIND = 'bigquery#getQueryResultsResponse' as const;
const REF = { projectId: 'p', jobId: 'mine', location: 'US' };

/** `text` as a stream of `size`-byte chunks (splitting multi-byte characters). */
async function* chunks(text: string | Buffer, size = 7): AsyncGenerator<Buffer> {
  const b = Buffer.isBuffer(text) ? text : Buffer.from(text);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

/**
 * The object path as jobs.ts runs it: deliverPage, then the row cap (capRows's rules). The rows
 * past the cap are dropped before the backstop here: the streamed page counts detections in the
 * rows it delivers (the object path also counted them in the rows it then dropped).
 */
function objectPath(body: any, scan: number[], cap?: { start: number; max: number }) {
  const up = JSON.parse(JSON.stringify(body));
  if (cap && up.jobComplete && Array.isArray(up.rows)) up.rows = up.rows.slice(0, Math.max(0, cap.max - cap.start));
  const page = deliverPage(up, KIND, scan, REF);
  if (cap && page.body.jobComplete) capHead(page.body, page.rows, cap.start, cap.max);
  return page;
}

const opts = (scan: number[], cap?: { start: number; max: number }): StreamOptions => ({ kind: KIND, scan, ref: () => REF, sampleRows: 3, ...(cap ? { cap } : {}) });

const schema = { fields: [{ name: 'id', type: 'INTEGER', mode: 'NULLABLE', description: 'not shown' }, { name: 'note', type: 'STRING' }, { name: 'tags', type: 'STRING', mode: 'REPEATED' }, { name: 'r', type: 'RECORD', fields: [{ name: 'a', type: 'STRING' }, { name: 'n', type: 'FLOAT' }] }] };
const row = (i: number) => ({ f: [{ v: String(i) }, { v: i % 2 ? `paid 4111 1111 1111 1111 — ünïcödé ✓ ${i}` : null }, { v: [{ v: `bob${i}@example.com` }, { v: 'x"\\\n\u2028' }] }, { v: { f: [{ v: '123-45-6789' }, { v: 1.5 }] } }] });
const page = (n: number, extra: Record<string, unknown> = {}) => ({
  kind: 'bigquery#getQueryResultsResponse', etag: 'e', schema, jobReference: { projectId: 'p', jobId: 'upstream_id', location: 'US' },
  totalRows: '50', pageToken: 'tok-next', rows: Array.from({ length: n }, (_, i) => row(i)), totalBytesProcessed: '123', jobComplete: true, cacheHit: false, internal: { query: 'SELECT secret' }, ...extra,
});

async function compare(body: any, scan: number[], cap?: { start: number; max: number }, size = 7) {
  const want = objectPath(body, scan, cap);
  const got = await streamPage(chunks(JSON.stringify(body), size), opts(scan, cap));
  const bytes = JSON.stringify(want.body);
  expect(got.payload.toString()).toBe(bytes);
  expect(got.rows).toBe(want.rows);
  expect(got.detections).toEqual(want.detections);
  if (Array.isArray(want.body.rows)) {
    expect(got.rowsSha256).toBe(createHash('sha256').update(JSON.stringify(want.body.rows)).digest('hex'));
    expect(got.sample).toEqual(want.body.rows.slice(0, 3));
  }
  expect(got.hasRows).toBe(Array.isArray(want.body.rows));
  return { got, want };
}

describe('a streamed page is the object path\'s, byte for byte', () => {
  it('without and with the backstop (STRING leaves of the scanned columns only)', async () => {
    await compare(page(20), []);
    const { got } = await compare(page(20), [0, 1, 2, 3]);
    console.log('detections over 20 rows, all columns scanned:', got.detections, 'bytes', got.payload.length);
    expect(got.payload.toString()).not.toContain('4111 1111');
    expect(got.payload.toString()).not.toContain('bob3@');
    expect(got.payload.toString()).not.toContain('SELECT secret');
    await compare(page(20), [1], undefined, 1);
    await compare(page(20), [2], undefined, 65536);
  });

  it('a page of several 64 KiB chunks of rows (the digest and the bytes are taken per chunk)', async () => {
    const { got } = await compare(page(2_000), [], undefined, 65536);
    expect(got.payload.length).toBeGreaterThan(4 * 65536);
    await compare(page(2_000), [1], { start: 0, max: 1_500 }, 4096);
  });

  it('under a row cap: rows past it dropped, totalRows at most the cap, the page token gone at the cap', async () => {
    for (const cap of [{ start: 0, max: 5 }, { start: 0, max: 20 }, { start: 0, max: 30 }, { start: 10, max: 15 }, { start: 30, max: 15 }]) {
      const { got, want } = await compare(page(20), [1], cap);
      expect(got.head.pageToken).toBe(want.body.pageToken);
      expect(got.next?.token).toBe(cap.start + want.rows < cap.max ? 'tok-next' : undefined);
    }
  });

  it('for an incomplete job, an empty page, a DML answer and a page without rows', async () => {
    await compare({ kind: KIND, jobReference: REF, jobComplete: false }, [1]);
    await compare({ ...page(3), jobComplete: false }, [1]);
    await compare(page(0), [1]);
    const dml = { jobReference: REF, jobComplete: true, totalRows: '0', schema: { fields: [] }, numDmlAffectedRows: '4', dmlStats: { updatedRowCount: '4', x: 1 } };
    await compare(dml, []);
    const { got } = await compare({ ...page(2), errors: [{ reason: 'r', message: 'm', debugInfo: 'd' }], rows: undefined }, []);
    expect(got.hasRows).toBe(false);
    // Numbers and keys spelled as JSON.parse + JSON.stringify spell them; cells without `v`.
    await compare({ ...page(0), rows: [{ f: [{ v: 1e21 }, {}, { v: [-0, 1.50, { a: [true, false, null] }] }, { v: null }] }] }, []);
  });
});

describe('string cells are spelled as JSON.stringify spells them', () => {
  // Every kind of character JSON.stringify writes other than as itself (quote, backslash, the
  // control characters, lone surrogates) beside ones it keeps (a surrogate pair, U+2028, DEL,
  // U+FFFD, non-ASCII letters), alone and inside longer text, in a column scanned and one not.
  const tricky = ['"', '\\', '\u0000', '\b\f\n\r\t', '\u001f', '\ud800', '\udfff', 'a\udc00b', '\ud83d\ude00', '\u2028\u2029', '\u007f', '\ufffd', 'ünïcödé', '', 'plain ascii text longer than a few characters'];
  const cells = tricky.flatMap((t) => [t, `before ${t} after`, `${t}${t}`]);
  const body = {
    kind: KIND, schema: { fields: [{ name: 'a', type: 'STRING' }, { name: 'b', type: 'STRING' }] }, jobReference: REF, totalRows: String(cells.length),
    rows: cells.map((c, i) => ({ f: [{ v: c }, { v: cells[cells.length - 1 - i] }] })), jobComplete: true,
  };

  it('byte for byte the object path\'s, in any chunking, scanned or not', async () => {
    for (const size of [1, 5, 64, 65536]) {
      await compare(body, [], undefined, size);
      await compare(body, [1], undefined, size);
    }
    // Not only equal to the object path: each such cell is escaped in the bytes sent.
    const { got } = await compare(body, []);
    const text = got.payload.toString('latin1');
    for (const escaped of ['\\"', '\\\\', '\\u0000', '\\b\\f\\n\\r\\t', '\\ud800', '\\udfff']) expect(text).toContain(escaped);
  });
});

describe('the rows text is held in 64 KiB chunks that later pages reuse', () => {
  // Rows of 1-, 2-, 3- and 4-byte UTF-8 characters, so that characters fall across chunk ends.
  const wide = (tag: string, n: number) => ({
    kind: KIND, schema: { fields: [{ name: 's', type: 'STRING' }, { name: 'n', type: 'INTEGER' }] }, jobReference: REF, totalRows: String(n), jobComplete: true,
    rows: Array.from({ length: n }, (_, i) => ({ f: [{ v: `${tag}${'aé✓😀'.repeat(1 + (i % 7))}` }, { v: String(i) }] })),
  });

  it('several chunks of multi-byte text, then a smaller page on the reused chunks: each the object path\'s bytes', async () => {
    const big = await compare(wide('first-page', 6_000), [], undefined, 65536);
    expect(big.got.payload.length).toBeGreaterThan(3 * 65536);
    const small = await compare(wide('second', 50), [0], undefined, 4096);
    // Nothing of the first page is left in the second one's bytes.
    expect(small.got.payload.toString()).not.toContain('first-page');
    expect(small.got.payload.length).toBeLessThan(65536);
    // The first page's payload is its own copy: unchanged by the second page.
    expect(big.got.payload.toString()).toBe(JSON.stringify(big.want.body));
  });
});

describe('a hostile upstream body is refused, nothing delivered', () => {
  const refused = async (source: AsyncIterable<Buffer>, o: Partial<StreamOptions> = {}) => {
    const e = await streamPage(source, { ...opts([1]), ...o }).then(() => undefined, (err) => err);
    expect(e).toBeInstanceOf(BigQueryError);
    expect((e as BigQueryError).reason).toBe('backendError');
    return (e as BigQueryError).message;
  };

  it('a single string larger than the page bound', async () => {
    async function* huge() {
      yield Buffer.from('{"kind":"x","schema":{"fields":[]},"rows":[{"f":[{"v":"');
      for (let i = 0; i < 200; i++) yield Buffer.alloc(65536, 'a');
      yield Buffer.from('"}]}]}');
    }
    const before = process.memoryUsage().rss;
    console.log('huge string refused:', await refused(huge(), { maxBytes: 4 * 2 ** 20 }), 'rss growth MB', ((process.memoryUsage().rss - before) / 2 ** 20).toFixed(1));
  });

  it('deep nesting, in a cell and at the top', async () => {
    const deep = (n: number) => `{"schema":{"fields":[]},"rows":[{"f":[{"v":${'['.repeat(n)}${']'.repeat(n)}}]}]}`;
    expect(await refused(chunks(deep(100_000), 4096), { scan: [] })).toMatch(/nesting deeper than 100/);
    expect(await refused(chunks(deep(100_000), 4096))).toMatch(/nesting/);
    expect(await refused(chunks(`{"x":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`, 4096))).toMatch(/nesting/);
    // Within the bound it is delivered as is.
    await compare(JSON.parse(deep(50)), []);
  });

  it('a body cut short, not JSON, with trailing bytes, or failing mid-read', async () => {
    const full = JSON.stringify(page(10));
    expect(await refused(chunks(full.slice(0, full.length / 2)))).toMatch(/cut short/);
    expect(await refused(chunks(full.slice(0, -1)))).toMatch(/cut short/);
    expect(await refused(chunks(`${full}{}`))).toMatch(/more after|could not be read/);
    expect(await refused(chunks('<html>502</html>'))).toMatch(/not valid JSON|could not be read|not a JSON object/);
    async function* failing() { yield Buffer.from(full.slice(0, 500)); throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }); }
    expect(await refused(failing())).toMatch(/socket hang up/);
  });

  it('rows that are not f/v, two rows arrays, or rows before the schema when the backstop scans', async () => {
    expect(await refused(chunks('{"schema":{"fields":[]},"rows":[{"g":[]}]}'))).toMatch(/f\/v/);
    expect(await refused(chunks('{"schema":{"fields":[]},"rows":[{"f":[{"v":"a","w":"b"}]}]}'))).toMatch(/f\/v/);
    expect(await refused(chunks('{"schema":{"fields":[]},"rows":["x"]}'))).toMatch(/not an object/);
    expect(await refused(chunks('{"schema":{"fields":[]},"rows":[],"rows":[]}'))).toMatch(/two/);
    // A second schema would relabel the columns after the backstop scanned them by the first.
    expect(await refused(chunks('{"schema":{"fields":[{"name":"a","type":"INTEGER"}]},"rows":[{"f":[{"v":"4111111111111111"}]}],"schema":{"fields":[{"name":"a","type":"STRING"}]}}'))).toMatch(/two schemas/);
    expect(await refused(chunks('{"rows":[{"f":[{"v":"4111111111111111"}]}],"schema":{"fields":[{"name":"a","type":"STRING"}]}}'))).toMatch(/before the schema/);
  });
});
