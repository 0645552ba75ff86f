/**
 * `\uXXXX` and `\UXXXXXXXX` escapes of GoogleSQL string literals, which @polyglot-sql/sdk (0.12) leaves
 * as the six (ten) characters where it decodes `\n` or `\x41` (an upstream bug): `unicodeEscapes`
 * writes the code point itself into the literal before polyglot reads it
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#string_and_bytes_literals).
 * Raw literals (`r'…'`) keep their backslashes; a decoded quote or backslash is written escaped.
 */
import { scan } from './translate.js';

const ESCAPE = /\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|[\s\S])/g;

export function unicodeEscapes(sql: string): string {
  if (!/\\[uU]/.test(sql)) return sql;
  const edits: Array<[number, number, string]> = [];
  scan(sql, (kind, s, e) => {
    if (kind !== 'string' || /[rR]/.test(sql[s - 1] ?? '') && !/\w/.test(sql[s - 2] ?? '')) return;
    const q = sql[s];
    const body = sql.slice(s, e);
    const out = body.replace(ESCAPE, (m, u4?: string, u8?: string) => {
      if (!u4 && !u8) return m;
      const cp = parseInt(u4 ?? u8!, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return m; // not a code point: the analyzer refuses it first
      const c = String.fromCodePoint(cp);
      return c === q || c === '\\' ? `\\${c}` : c;
    });
    if (out !== body) edits.push([s, e, out]);
  });
  let out = sql;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}
