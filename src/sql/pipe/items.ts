/**
 * Token trees for the desugarer: the tokens of lexer.ts with every `( … )`, `[ … ]` and `{ … }`
 * nested as a group, and helpers to split and render them. Rendering keeps the whitespace between
 * tokens as written, and writes one space where the caller wrote a comment (comments never reach
 * the desugared text).
 */
import { BigQueryError } from '../../bigquery/errors.js';
import type { Token } from './lexer.js';

export type Item =
  | { t: 'tok'; tok: Token; gap: string }
  | { t: 'group'; open: string; items: Item[]; gap: string; start: number; end: number }
  | { t: 'text'; text: string; gap: string };

const CLOSE: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

export const refuse = (why: string) => new BigQueryError('invalidQuery', `bqgate cannot translate this pipe or newer syntax exactly (${why}); it was not run. Rewrite that part in standard GoogleSQL.`, { location: 'q' });

/** Nests `tokens` into items. Throws BigQueryError(invalidQuery) for unbalanced brackets. */
export function nest(sql: string, tokens: Token[]): Item[] {
  let k = 0;
  const gapBefore = (i: number) => {
    const from = i === 0 ? tokens[0].start : tokens[i - 1].end;
    const g = sql.slice(from, tokens[i].start);
    return /^[ \t\n\r\f\v]*$/.test(g) ? g : ' ';
  };
  const level = (close?: string): Item[] => {
    const out: Item[] = [];
    while (k < tokens.length) {
      const tok = tokens[k];
      const gap = gapBefore(k);
      if (tok.kind === 'op' && tok.text in CLOSE) {
        k++;
        const items = level(CLOSE[tok.text]);
        out.push({ t: 'group', open: tok.text, items, gap, start: tok.start, end: tokens[k - 1].end });
        continue;
      }
      if (tok.kind === 'op' && (tok.text === ')' || tok.text === ']' || tok.text === '}')) {
        if (tok.text !== close) throw refuse(`an unmatched ${tok.text}`);
        k++;
        return out;
      }
      out.push({ t: 'tok', tok, gap });
      k++;
    }
    if (close) throw refuse(`a ${close} is missing`);
    return out;
  };
  return level();
}

/** The text of an item list, with the original spacing (the first item's gap left out). */
export function render(items: Item[]): string {
  return items.map((it, i) => (i ? it.gap : '') + itemText(it)).join('');
}

export function itemText(it: Item): string {
  if (it.t === 'tok') return it.tok.text;
  if (it.t === 'text') return it.text;
  return `${it.open}${render(it.items)}${CLOSE[it.open]}`;
}

/** A generated piece of text standing as one item. */
export const text = (t: string, gap = ' '): Item => ({ t: 'text', text: t, gap });

/** Whether `it` is the keyword (or plain word) `w` (upper case). */
export const isWord = (it: Item | undefined, ...w: string[]): boolean => it?.t === 'tok' && it.tok.kind === 'word' && w.includes(it.tok.upper!);
export const isOp = (it: Item | undefined, op: string): boolean => it?.t === 'tok' && it.tok.kind === 'op' && it.tok.text === op;
export const isGroup = (it: Item | undefined, open = '('): it is Extract<Item, { t: 'group' }> => it?.t === 'group' && it.open === open;
/** An identifier: a plain word or a backquoted name. */
export const isName = (it: Item | undefined): boolean => it?.t === 'tok' && (it.tok.kind === 'word' || it.tok.kind === 'quoted');

/** Words that open a type with angle-bracket parameters (`STRUCT<a INT64, b STRING>`). */
const ANGLED = ['STRUCT', 'ARRAY', 'RANGE'];

/** Splits at top-level items matching `at` (angle-bracketed type parameters count as nested). */
export function split(items: Item[], at: (it: Item) => boolean): Item[][] {
  const out: Item[][] = [[]];
  let angle = 0;
  items.forEach((it, i) => {
    if (isOp(it, '<') && (angle > 0 || isWord(items[i - 1], ...ANGLED))) angle++;
    else if (angle > 0 && isOp(it, '>')) angle--;
    else if (angle > 0 && isOp(it, '>>')) angle = Math.max(0, angle - 2);
    if (angle === 0 && at(it)) { out.push([]); return; }
    out[out.length - 1].push(it);
  });
  return out;
}

/** Comma-separated parts (an empty trailing part, as after a trailing comma, is dropped). */
export function commas(items: Item[]): Item[][] {
  const parts = split(items, (it) => isOp(it, ','));
  if (parts.length > 1 && parts[parts.length - 1].length === 0) parts.pop();
  return parts;
}

/** Whether any item, at any depth, satisfies `p`. */
export function some(items: Item[], p: (it: Item, i: number, level: Item[]) => boolean): boolean {
  return items.some((it, i) => p(it, i, items) || (it.t === 'group' && some(it.items, p)));
}

/** Leading gap removed from an item list's rendering. */
export const flat = (items: Item[]) => render(items).trim();
