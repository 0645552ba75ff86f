/**
 * The backstop's cell scan, shared by the object path (index.ts `backstop`) and the streaming one
 * (stream.ts): one f/v cell of a schema field's type, its STRING leaves run through the content
 * detectors (detectors.ts).
 */
import { redact, type DetectorKind } from './detectors.js';

export type Detections = Partial<Record<DetectorKind, number>>;

export interface Field { type: string; mode?: string; fields?: Field[] }

/**
 * Redacts detected values inside one f/v cell of `field`'s type, counting them in `found`. Only
 * STRING leaves are scanned (an INT64 or a TIMESTAMP in µs can look like a card number).
 */
export function scanCell(v: unknown, field: Field, found: Detections): unknown {
  if (v === null || v === undefined) return v;
  if (field.mode === 'REPEATED' && Array.isArray(v)) {
    const inner = { ...field, mode: 'NULLABLE' };
    return v.map((x) => ({ v: scanCell((x as { v: unknown }).v, inner, found) }));
  }
  if ((field.type === 'RECORD' || field.type === 'STRUCT') && Array.isArray((v as { f?: unknown }).f)) {
    return { f: (v as { f: Array<{ v: unknown }> }).f.map((c, i) => ({ v: field.fields?.[i] ? scanCell(c.v, field.fields[i], found) : c.v })) };
  }
  if (field.type === 'STRING' && typeof v === 'string') {
    const r = redact(v);
    for (const k of r.found) found[k] = (found[k] ?? 0) + 1;
    return r.text;
  }
  return v;
}
