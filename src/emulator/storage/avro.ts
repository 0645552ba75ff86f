/**
 * The Storage Read API's AVRO format (https://cloud.google.com/bigquery/docs/reference/storage#avro_schema_details),
 * written with avsc:
 *
 * - `avroSchema(fields)`: the Avro record schema BigQuery writes (`AvroSchema.schema` is its JSON):
 *   a record `__root__`; NULLABLE fields as the union `["null", T]`; INT64 long, FLOAT64 double,
 *   BOOL boolean, STRING string, BYTES bytes, NUMERIC bytes/decimal(38,9), BIGNUMERIC
 *   bytes/decimal(77,38), DATE int/date, TIME long/time-micros, TIMESTAMP long/timestamp-micros,
 *   DATETIME string/datetime (`YYYY-MM-DDThh:mm:ss[.ffffff]`), JSON and GEOGRAPHY string with
 *   `sqlType`, REPEATED array, RECORD a nested record.
 * - `avroRows(type, rows)`: `AvroRows.serialized_binary_rows`, the rows' Avro binary encodings
 *   back to back (no container header), as a client decodes them one after another.
 *
 * INT64 and the µs longs are written from bigint (a long type over BigInt, so values past 2^53
 * keep every digit).
 */
import avro from 'avsc';
import type { BqField } from '../encode.js';
import { typeName, type Plain } from './values.js';

/** avsc's long over bigint (8-byte little-endian two's complement, as avsc hands longs to `__with`). */
const BIG_LONG = avro.types.LongType.__with({
  fromBuffer: (b: Buffer) => b.readBigInt64LE(),
  toBuffer: (n: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64LE(n); return b; },
  fromJSON: (x: unknown) => BigInt(x as string),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

type AvroSchema = string | Record<string, unknown> | AvroSchema[];

function scalar(t: string): AvroSchema {
  switch (t) {
    case 'INT64': return 'long';
    case 'FLOAT64': return 'double';
    case 'BOOL': return 'boolean';
    case 'BYTES': return 'bytes';
    case 'NUMERIC': return { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 9 };
    case 'BIGNUMERIC': return { type: 'bytes', logicalType: 'decimal', precision: 77, scale: 38 };
    case 'DATE': return { type: 'int', logicalType: 'date' };
    case 'TIME': return { type: 'long', logicalType: 'time-micros' };
    case 'TIMESTAMP': return { type: 'long', logicalType: 'timestamp-micros' };
    case 'DATETIME': return { type: 'string', logicalType: 'datetime' };
    case 'JSON': return { type: 'string', sqlType: 'JSON' };
    case 'GEOGRAPHY': return { type: 'string', sqlType: 'GEOGRAPHY' };
    default: return 'string';
  }
}

function fieldType(f: BqField, namespace: string): AvroSchema {
  const t = typeName(f.type);
  const inner = t === 'STRUCT'
    ? { type: 'record', name: f.name, namespace, fields: (f.fields ?? []).map((c) => ({ name: c.name, type: fieldType(c, `${namespace}.${f.name}`) })) }
    : scalar(t);
  if (f.mode === 'REPEATED') return { type: 'array', items: inner };
  return f.mode === 'REQUIRED' ? inner : ['null', inner];
}

/** The Avro schema of a BigQuery schema (table above), as a plain object (JSON.stringify it for `AvroSchema.schema`). */
export function avroSchema(fields: BqField[]): Record<string, unknown> {
  return { type: 'record', name: '__root__', fields: fields.map((f) => ({ name: f.name, type: fieldType(f, 'root') })) };
}

/** An avsc type for `schema` whose longs are bigint. */
export function avroType(schema: Record<string, unknown>): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { typeHook: (s) => (s === 'long' || (typeof s === 'object' && !Array.isArray(s) && (s as { type?: unknown }).type === 'long') ? BIG_LONG : undefined) });
}

/** Minimal big-endian two's complement of `v` (Avro's decimal bytes). */
function decimalBytes(v: bigint): Buffer {
  const b = Buffer.from(BigInt.asUintN(8 * 40, v).toString(16).padStart(80, '0'), 'hex');
  const negative = v < 0n;
  let i = 0;
  while (i < b.length - 1 && b[i] === (negative ? 0xff : 0) && ((b[i + 1] & 0x80) !== 0) === negative) i++;
  return b.subarray(i);
}

/** µs since the epoch (civil) as BigQuery's Avro DATETIME text. */
function datetimeText(us: bigint): string {
  const frac = ((us % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const iso = new Date(Number((us - frac) / 1000n)).toISOString().slice(0, 19);
  return frac ? `${iso}.${frac.toString().padStart(6, '0')}` : iso;
}

function avroValue(v: Plain, f: BqField): unknown {
  if (f.mode === 'REPEATED') return ((v as Plain[] | null) ?? []).map((x) => avroValue(x, { ...f, mode: 'REQUIRED' }));
  if (v === null) return null;
  switch (typeName(f.type)) {
    case 'STRUCT': return Object.fromEntries((f.fields ?? []).map((c) => [c.name, avroValue((v as Record<string, Plain>)[c.name] ?? null, c)]));
    case 'NUMERIC': case 'BIGNUMERIC': return decimalBytes(v as bigint);
    case 'BYTES': return Buffer.from(v as Uint8Array);
    case 'DATETIME': return datetimeText(v as bigint);
    default: return v;
  }
}

/** `serialized_binary_rows`: each row's Avro binary encoding, concatenated. */
export function avroRows(type: avro.Type, fields: BqField[], rows: ReadonlyArray<Record<string, Plain>>): Buffer {
  return Buffer.concat(rows.map((r) => type.toBuffer(Object.fromEntries(fields.map((f) => [f.name, avroValue(r[f.name] ?? null, f)])))));
}

