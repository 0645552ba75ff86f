/**
 * The content backstop (deliver/detectors.ts: card numbers, SSNs, emails, IBANs) over Storage Read
 * API batches: the batch is decoded (Arrow IPC with apache-arrow, after the session's schema
 * message; Avro binary rows with avsc, by the session's Avro schema) and the string values of the
 * columns the policy leaves to the backstop are scanned. REST pages redact what a detector finds; a
 * binary batch cannot be rewritten in place, so a finding refuses the stream instead (fail closed).
 * Sources: https://cloud.google.com/bigquery/docs/reference/storage#arrow_schema_details, …#avro_schema_details.
 */
import type { tableFromIPC } from 'apache-arrow';
import type avsc from 'avsc';
import { redact, type DetectorKind } from '../../deliver/detectors.js';

/** The decoders a scan uses: apache-arrow's `tableFromIPC` and avsc. */
export interface ScanCodecs { tableFromIPC: typeof tableFromIPC; avro: typeof avsc }
let codecs: Promise<ScanCodecs> | undefined;

/**
 * The decoders, loaded on first use: apache-arrow and avsc hold about 6 MB of a gateway's resident
 * memory (measured on the compiled gateway at start), which one that never serves a scanned Storage
 * Read stream need not carry. Rejects only if the packages cannot be loaded.
 */
export function scanCodecs(): Promise<ScanCodecs> {
  codecs ??= Promise.all([import('apache-arrow'), import('avsc')]).then(([arrow, avro]) => ({ tableFromIPC: arrow.tableFromIPC, avro: (avro as any).default ?? avro }));
  return codecs;
}

/** What a stream's batches are scanned with: the session's schema and the columns to scan. */
export interface ScanPlan { format: string; /** ARROW: base64 serialized schema; AVRO: the Avro schema JSON. */ schema: string; columns: string[] }

const strings = (v: unknown, out: string[]) => {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object' && !(v instanceof Uint8Array)) for (const x of Object.values(v as object)) strings(x, out);
};

/** The detector findings in one batch, by column: `{ column, kind }` of the first, or undefined. `codecs`: scanCodecs()'s. */
export function scanBatch(plan: ScanPlan, data: Buffer, { tableFromIPC, avro }: ScanCodecs): { column: string; kind: DetectorKind } | undefined {
  const wanted = new Set(plan.columns);
  const check = (column: string, v: unknown) => {
    const found: string[] = [];
    strings(v, found);
    for (const s of found) { const r = redact(s); if (r.found.length) return { column, kind: r.found[0] }; }
    return undefined;
  };
  if (plan.format === 'ARROW') {
    const t = tableFromIPC(Buffer.concat([Buffer.from(plan.schema, 'base64'), data]));
    for (const f of t.schema.fields) {
      if (!wanted.has(f.name)) continue;
      const col = t.getChild(f.name);
      if (!col) continue;
      for (const v of col) { const hit = check(f.name, v && typeof v === 'object' && 'toJSON' in v ? (v as any).toJSON() : v); if (hit) return hit; }
    }
    return undefined;
  }
  const type = avro.Type.forSchema(JSON.parse(plan.schema), { wrapUnions: false } as any);
  for (let pos = 0; pos < data.length;) {
    const r = type.decode(data, pos);
    if (r.offset < 0 || r.value === undefined) throw new Error('a truncated Avro row');
    pos = r.offset;
    for (const c of wanted) { const hit = check(c, (r.value as any)[c]); if (hit) return hit; }
  }
  return undefined;
}
