/**
 * The Storage Read API's ARROW format (https://cloud.google.com/bigquery/docs/reference/storage#arrow_schema_details),
 * written with apache-arrow:
 *
 * - `arrowSchema(fields)`: the BigQuery schema as an Arrow schema — INT64 int64, FLOAT64 double,
 *   NUMERIC decimal128(38,9), BIGNUMERIC decimal256(76,38), BOOL bool, STRING utf8, BYTES binary,
 *   DATE date32 (days), TIMESTAMP timestamp(µs, "UTC"), DATETIME timestamp(µs, no zone), TIME
 *   time64(µs), JSON and GEOGRAPHY utf8 with `ARROW:extension:name` `google:sqlType:json` /
 *   `google:sqlType:geography`, REPEATED list (not null), RECORD struct; REQUIRED fields not nullable.
 * - `serializedSchema(schema)`: `ArrowSchema.serialized_schema`, the IPC schema message (bytes).
 * - `serializedBatch(schema, rows)`: `ArrowRecordBatch.serialized_record_batch`, one IPC record
 *   batch message of the plain rows (values.ts); a client reads schema + batch as one IPC stream.
 */
import {
  Schema, Field, Int64, Float64, Decimal, Bool, Utf8, Binary, DateDay, TimestampMicrosecond, TimeMicrosecond, List, Struct,
  RecordBatch, RecordBatchStreamWriter, makeData, makeBuilder, type DataType, type Data,
} from 'apache-arrow';
import type { BqField } from '../encode.js';
import { DECIMAL_SCALE, typeName, type Plain } from './values.js';

const EXTENSION: Record<string, string> = { JSON: 'google:sqlType:json', GEOGRAPHY: 'google:sqlType:geography' };

function scalarType(t: string): DataType {
  switch (t) {
    case 'INT64': return new Int64();
    case 'FLOAT64': return new Float64();
    case 'NUMERIC': case 'BIGNUMERIC': { const d = DECIMAL_SCALE[t]; return new Decimal(d.scale, d.precision, d.bits); }
    case 'BOOL': return new Bool();
    case 'BYTES': return new Binary();
    case 'DATE': return new DateDay();
    case 'TIMESTAMP': return new TimestampMicrosecond('UTC');
    case 'DATETIME': return new TimestampMicrosecond();
    case 'TIME': return new TimeMicrosecond();
    default: return new Utf8();
  }
}

/** The Arrow field of a BigQuery field. */
function arrowField(f: BqField, repeatedItem = false): Field {
  const t = typeName(f.type);
  const meta = EXTENSION[t] ? new Map([['ARROW:extension:name', EXTENSION[t]]]) : undefined;
  const inner = t === 'STRUCT' ? new Struct((f.fields ?? []).map((c) => arrowField(c))) : scalarType(t);
  if (f.mode === 'REPEATED' && !repeatedItem) return new Field(f.name, new List(arrowField({ ...f, name: 'item' }, true)), false);
  return new Field(f.name, inner, repeatedItem ? false : f.mode !== 'REQUIRED', meta);
}

/** The Arrow schema of a BigQuery schema (table above). */
export function arrowSchema(fields: BqField[]): Schema {
  return new Schema(fields.map((f) => arrowField(f)));
}

const EOS_BYTES = 8; // the IPC stream's end marker: 0xFFFFFFFF 0x00000000

/** `serialized_schema`: the IPC schema message alone (the stream a writer makes of no batches, minus its end marker). */
export function serializedSchema(schema: Schema): Uint8Array {
  const w = new RecordBatchStreamWriter();
  w.reset(undefined, schema);
  w.close();
  const all = w.toUint8Array(true);
  return all.slice(0, all.length - EOS_BYTES);
}

/** Validity bitmap (bit set = not null) and the null count of `values`. */
function validity(values: readonly Plain[]): { nullBitmap: Uint8Array; nullCount: number } {
  const nullBitmap = new Uint8Array(Math.ceil(values.length / 8));
  let nullCount = 0;
  values.forEach((v, i) => { if (v === null) nullCount++; else nullBitmap[i >> 3] |= 1 << (i & 7); });
  return { nullBitmap, nullCount };
}

/** Two's-complement little-endian 32-bit words of `v` (`words` of them), as Arrow stores decimals. */
function decimalWords(v: bigint, words: number): Uint32Array {
  const out = new Uint32Array(words);
  let x = BigInt.asUintN(words * 32, v);
  for (let i = 0; i < words; i++) { out[i] = Number(x & 0xffffffffn); x >>= 32n; }
  return out;
}

/** The Arrow data of one column's plain values (built directly, so µs and decimals keep every digit). */
function columnData(field: Field, values: readonly Plain[]): Data {
  const type = field.type as DataType;
  const { nullBitmap, nullCount } = validity(values);
  const length = values.length;
  if (type instanceof List) {
    const child = type.children[0];
    const offsets = new Int32Array(length + 1);
    const flat: Plain[] = [];
    values.forEach((v, i) => { for (const x of (v as Plain[] | null) ?? []) flat.push(x); offsets[i + 1] = flat.length; });
    return makeData({ type, length, nullCount, nullBitmap, valueOffsets: offsets, child: columnData(child, flat) });
  }
  if (type instanceof Struct) {
    const children = type.children.map((c) => columnData(c, values.map((v) => (v === null ? null : (v as Record<string, Plain>)[c.name] ?? null))));
    return makeData({ type, length, nullCount, nullBitmap, children });
  }
  if (type instanceof Int64 || type instanceof TimestampMicrosecond || type instanceof TimeMicrosecond) {
    const data = new BigInt64Array(length);
    values.forEach((v, i) => { if (v !== null) data[i] = v as bigint; });
    return makeData({ type: type as Int64, length, nullCount, nullBitmap, data });
  }
  if (type instanceof Float64) return makeData({ type, length, nullCount, nullBitmap, data: Float64Array.from(values, (v) => (v === null ? 0 : (v as number))) });
  if (type instanceof DateDay) return makeData({ type, length, nullCount, nullBitmap, data: Int32Array.from(values, (v) => (v === null ? 0 : (v as number))) });
  if (type instanceof Decimal) {
    const words = type.bitWidth / 32;
    const data = new Uint32Array(length * words);
    values.forEach((v, i) => { if (v !== null) data.set(decimalWords(v as bigint, words), i * words); });
    return makeData({ type, length, nullCount, nullBitmap, data });
  }
  // Variable-width (utf8, binary) and bool: apache-arrow's builders.
  const b = makeBuilder({ type, nullValues: [null] });
  for (const v of values) b.append(v as never);
  return b.finish().flush();
}

/** `serialized_record_batch`: one IPC record batch message of `rows` (plain values by field name). */
export function serializedBatch(schema: Schema, rows: ReadonlyArray<Record<string, Plain>>): Uint8Array {
  const children = schema.fields.map((f) => columnData(f, rows.map((r) => r[f.name] ?? null)));
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }));
  const all = RecordBatchStreamWriter.writeAll([batch]).toUint8Array(true);
  const head = serializedSchema(schema).length;
  return all.slice(head, all.length - EOS_BYTES);
}
