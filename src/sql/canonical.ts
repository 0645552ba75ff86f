/**
 * Canonical re-emission of a GoogleSQL statement or script from ZetaSQL's own parse, so that what
 * goes upstream is text the gateway generated, never the caller's bytes (DESIGN.md: "What runs is
 * what was analyzed").
 *
 * Input: the text and the parse tree ZetaSQL's `Parse` returned for it (ParseResponse
 * `parsedStatement` or `parsedScript`, protobuf-as-JSON with byte-offset parse locations). Every
 * leaf token the parser reported is re-written in one plain form:
 * - identifiers: a plain word (`[A-Za-z_][A-Za-z0-9_]*`) as written, anything else backquoted with
 *   `\` and `` ` `` escaped;
 * - string literals: from ZetaSQL's decoded `stringValue`, single-quoted, with `\\`, `\'`, `\n`,
 *   `\r`, `\t` and `\uXXXX` for other control characters — no raw or triple-quoted forms (other
 *   characters, Unicode line separators included, stand as themselves: without comments no lexer
 *   can end anything at them);
 * - bytes literals and the quoted part of NUMERIC / BIGNUMERIC / JSON literals: decoded by the
 *   GoogleSQL escape rules and re-encoded the same plain way (bytes as `b'…'` with `\xHH`);
 * - numbers, TRUE/FALSE/NULL and `*`: as written, after checking their shape.
 * The text between leaves — keywords, operators, punctuation, whitespace and comments, as ZetaSQL
 * tokenized it — keeps its keywords and punctuation; comments (`--` and `#` to CR or LF, `/* … *\/`
 * to the first `*\/`, as ZetaSQL's lexer reads them) and whitespace runs become one space. Any other
 * character between leaves (a quote, a backquote, a backslash, non-ASCII) means the parse did not
 * account for it, and the statement is refused.
 *
 * The caller checks exactness: the regenerated text must resolve to the same resolved AST (the
 * analysis fingerprint) as the original, else it is refused too (sql/index.ts `regenerate`).
 *
 * Throws BigQueryError('invalidQuery') naming what could not be re-emitted.
 */
import { WHITESPACE as LEXER_WHITESPACE } from './pipe/lexer.js';
import { BigQueryError } from '../bigquery/errors.js';

/** A leaf token of the parse: its byte range in the text and the canonical text that replaces it. */
interface Leaf { start: number; end: number; text: (original: string) => string }

const refuse = (why: string) => new BigQueryError('invalidQuery', `bqgate could not regenerate this statement from its analysis (${why}); it was not run. Rewrite that part in plain GoogleSQL.`, { location: 'q' });

const PLAIN_WORD = /^[A-Za-z_][A-Za-z0-9_]*$/;
const INT = /^(0[xX][0-9A-Fa-f]+|[0-9]+)$/;
const FLOAT = /^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;
const KEYWORD_LEAF = /^([A-Za-z]+( [A-Za-z]+)*|\*)$/;

/** The byte range of a parse node: the nearest `parseLocationRange` up its `parent` chain. */
export function location(node: any): [number, number] | undefined {
  for (let p = node; p && typeof p === 'object'; p = p.parent) {
    const r = p.parseLocationRange;
    if (r) return [Number(r.start ?? 0), Number(r.end ?? 0)];
  }
  return undefined;
}

const SHAPED = [INT, FLOAT, KEYWORD_LEAF];
const QUOTED = /^[rRbB]{0,2}('|")/;

/**
 * Collects the parse tree's leaf tokens: identifiers (ASTIdentifierProto, `idString`) and literal
 * leaves (any node whose `parent` is an ASTLeafProto carrying the token's `image`).
 */
function collectLeaves(node: unknown, out: Leaf[]): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) { for (const x of node) collectLeaves(x, out); return; }
  const o = node as Record<string, any>;
  if (typeof o.idString === 'string') {
    const loc = location(o);
    if (!loc) throw refuse(`the identifier ${JSON.stringify(o.idString)} has no parse location`);
    const id = o.idString as string;
    out.push({ start: loc[0], end: loc[1], text: (original) => (original === id && PLAIN_WORD.test(id) ? id : quoteIdentifier(id)) });
    return;
  }
  if (o.parent && typeof o.parent === 'object' && typeof o.parent.image === 'string') { out.push(literalLeaf(o)); return; }
  for (const value of Object.values(o)) collectLeaves(value, out);
}

/**
 * A literal leaf. Quoted images are strings (ZetaSQL's decoded `stringValue` when it gave one),
 * bytes (`b` prefix), or the quoted part of a typed literal (`NUMERIC '1.5'`, `JSON '…'`: the
 * keyword is inside the leaf's range, before the image); other images must be numbers, keywords
 * (TRUE, NULL, …) or `*`.
 */
function literalLeaf(o: Record<string, any>): Leaf {
  const image: string = o.parent.image;
  const loc = location(o);
  if (!loc) throw refuse(`the literal ${JSON.stringify(image.slice(0, 20))} has no parse location`);
  const [start, end] = loc;
  const quoted = image.match(QUOTED);
  if (!quoted) {
    return { start, end, text: withPrefix(image, () => { if (!SHAPED.some((r) => r.test(image))) throw refuse(`the literal ${JSON.stringify(image.slice(0, 20))}`); return image; }) };
  }
  if (/b/i.test(quoted[0])) return { start, end, text: withPrefix(image, () => encodeBytes(decodeLiteral(image, true) as Buffer)) };
  return {
    start, end,
    text: withPrefix(image, (typed) => encodeString(!typed && typeof o.stringValue === 'string' ? o.stringValue : decodeLiteral(image, false) as string)),
  };
}

/**
 * A leaf's text: the image sits inside the leaf's range, usually at its end; anything around it
 * (the keyword of `NUMERIC '1.5'`, the parentheses of `(ALL COLUMNS)`) is cleaned like the text
 * between leaves. `body(typed)` is told whether a keyword stood before the image.
 */
function withPrefix(image: string, body: (typed: boolean) => string): (original: string) => string {
  return (original) => {
    const at = original.lastIndexOf(image);
    if (at < 0) throw refuse('a literal does not sit where the parser placed it');
    const prefix = cleanGap(original.slice(0, at)).trim();
    const suffix = cleanGap(original.slice(at + image.length)).trim();
    return [prefix, body(prefix !== ''), suffix].filter(Boolean).join(' ');
  };
}

/** Characters that may stand between leaves (keywords, operators, punctuation) besides whitespace. */
const GAP_CHAR = /[A-Za-z0-9_(),.;*+\-/<>=!|&^~%[\]{}:@?$]/;
/** ZetaSQL's whitespace characters (pipe/lexer.ts WHITESPACE: ASCII and the Unicode spaces it takes). */
const WHITESPACE = { test: (c: string) => LEXER_WHITESPACE.has(c) };

/**
 * The text between two leaves with comments and whitespace runs as single spaces. Comments end as
 * ZetaSQL's lexer ends them: `--` and `#` at the next CR or LF (not at U+2028/U+2029), block
 * comments at the first `*\/` (they do not nest). Throws for any character that is not a keyword,
 * operator or punctuation character.
 */
export function cleanGap(gap: string): string {
  let out = '';
  const space = () => { if (!out.endsWith(' ')) out += ' '; };
  for (let i = 0; i < gap.length;) {
    const c = gap[i];
    if (WHITESPACE.test(c)) { space(); i++; continue; }
    if (c === '#' || (c === '-' && gap[i + 1] === '-')) {
      let j = i;
      while (j < gap.length && gap[j] !== '\n' && gap[j] !== '\r') j++;
      space(); i = j; continue;
    }
    if (c === '/' && gap[i + 1] === '*') {
      const j = gap.indexOf('*/', i + 2);
      if (j < 0) throw refuse('an unterminated comment');
      space(); i = j + 2; continue;
    }
    if (!GAP_CHAR.test(c)) throw refuse(`the character ${JSON.stringify(c)} outside any literal or identifier the parser reported`);
    out += c; i++;
  }
  return out;
}

/** A backquoted identifier with `\`, `` ` `` and control characters escaped. */
export function quoteIdentifier(id: string): string {
  return `\`${escapeChars(id, '`')}\``;
}

/** A plain single-quoted GoogleSQL string literal of `value`. */
export function encodeString(value: string): string {
  return `'${escapeChars(value, "'")}'`;
}

function escapeChars(value: string, quote: string): string {
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/** A plain bytes literal: printable ASCII as itself (but `\` and `'`), every other byte `\xHH`. */
export function encodeBytes(value: Buffer): string {
  let out = "b'";
  for (const b of value) out += b >= 0x20 && b < 0x7f && b !== 0x5c && b !== 0x27 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return `${out}'`;
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '?': 63, '"': 34, "'": 39, '`': 96 };

/**
 * Decodes a GoogleSQL string or bytes literal token (`'…'`, `"…"`, triple-quoted, with `r`/`b`
 * prefixes) by the lexical rules of the GoogleSQL reference ("String and bytes literals"). Returns
 * a string, or a Buffer when `bytes`. Throws BigQueryError(invalidQuery) on a malformed token.
 * The result is checked by the caller: the re-emitted statement must resolve identically.
 */
export function decodeLiteral(image: string, bytes: boolean): string | Buffer {
  const m = image.match(/^([rRbB]{0,2})('''|"""|'|")/);
  if (!m) throw refuse(`the literal ${JSON.stringify(image.slice(0, 20))}`);
  const prefix = m[1].toLowerCase();
  const q = m[2];
  if (!image.endsWith(q) || image.length < m[0].length + q.length) throw refuse('an unterminated literal');
  const body = image.slice(m[0].length, image.length - q.length);
  const raw = prefix.includes('r');
  const out: number[] = [];
  const push = (s: string) => { for (const b of Buffer.from(s, 'utf8')) out.push(b); };
  if (raw) push(body);
  else {
    for (let i = 0; i < body.length;) {
      const c = body[i];
      if (c !== '\\') { const cp = body.codePointAt(i)!; const ch = String.fromCodePoint(cp); push(ch); i += ch.length; continue; }
      const e = body[i + 1];
      if (e === undefined) throw refuse('a literal ending in a backslash');
      if (e in SIMPLE_ESCAPES) { out.push(SIMPLE_ESCAPES[e]); i += 2; continue; }
      if (/[0-7]/.test(e)) {
        const oct = body.slice(i + 1, i + 4);
        if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) throw refuse('an octal escape');
        const v = parseInt(oct, 8);
        if (bytes) out.push(v); else push(String.fromCodePoint(v));
        i += 4; continue;
      }
      if (e === 'x' || e === 'X') {
        const hex = body.slice(i + 2, i + 4);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw refuse('a hex escape');
        const v = parseInt(hex, 16);
        if (bytes) out.push(v); else push(String.fromCodePoint(v));
        i += 4; continue;
      }
      if (!bytes && (e === 'u' || e === 'U')) {
        const n = e === 'u' ? 4 : 8;
        const hex = body.slice(i + 2, i + 2 + n);
        if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) throw refuse('a Unicode escape');
        push(String.fromCodePoint(parseInt(hex, 16)));
        i += 2 + n; continue;
      }
      throw refuse(`the escape \\${e}`);
    }
  }
  const buf = Buffer.from(out);
  return bytes ? buf : buf.toString('utf8');
}

/**
 * The canonical text of `sql` (see the module comment) from its ZetaSQL parse tree. Leaves are
 * emitted in text order; overlapping leaves, or a leaf outside the text, are refused.
 */
export function reemit(sql: string, parseTree: unknown): string {
  const leaves: Leaf[] = [];
  collectLeaves(parseTree, leaves);
  leaves.sort((a, b) => a.start - b.start || a.end - b.end);
  const bytes = Buffer.from(sql, 'utf8');
  const slice = (a: number, b: number) => bytes.subarray(a, b).toString('utf8');
  let out = '';
  let at = 0;
  // Spaces are only ever collapsed between leaves, never inside a literal.
  const gap = (text: string) => { out += out.endsWith(' ') || out === '' ? text.replace(/^ /, '') : text; };
  for (const leaf of leaves) {
    if (leaf.start < at || leaf.end > bytes.length || leaf.end < leaf.start) throw refuse('overlapping tokens in the parse');
    gap(cleanGap(slice(at, leaf.start)));
    out += leaf.text(slice(leaf.start, leaf.end));
    at = leaf.end;
  }
  gap(cleanGap(slice(at, bytes.length)).replace(/[ ;]+$/, ''));
  return out.replace(/ $/, '');
}
