/**
 * Sibling definitions: the corpus keeps each statement of a document apart, so a query calling a
 * temp function, or reading a temp table, that an earlier statement of the same document creates
 * (`CREATE TEMP FUNCTION addFourAndDivide …` then `SELECT addFourAndDivide(val, 2) …`) names
 * something its own text does not define. BigQuery runs the two as one script
 * (https://cloud.google.com/bigquery/docs/multi-statement-queries), where a temp function or temp
 * table is visible to the statements after it; coverage analyzes the statement the same way: the
 * definitions it uses, nearest earlier one per name (and what those use, in document order),
 * followed by the statement.
 *
 * Only temp objects join the script text: a persistent `CREATE [TABLE] FUNCTION ds.f` / `CREATE
 * PROCEDURE ds.p` is fetched as a routine (routines.get) by the analyzer, which the synthetic
 * catalog then answers from that definition (routine-def.ts) instead of shaping it from the call site.
 */
import type { Scope } from './scope.js';

/** A corpus statement as read from the JSON Lines (`source_path`: the document it came from). */
export interface CorpusStmt { id: string; sql: string; category: string; source_path?: string }

/** What a definition statement creates: a temp function or a temp table, by lower-case name. */
export interface Definition { kind: 'function' | 'table'; name: string; stmt: CorpusStmt }

/** The whitespace and comments (`--`, `#`, `/* … *\/`) before a statement's first token. */
export const leadOf = (sql: string) => sql.match(/^(?:\s+|--[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/)*/)![0];
const body = (sql: string) => sql.slice(leadOf(sql).length);

const DEFINES = /^CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+(?:(AGGREGATE\s+)?(FUNCTION)|(TABLE))\s+(?:IF\s+NOT\s+EXISTS\s+)?(`[^`]+`|[A-Za-z_][\w]*)/i;

/** The temp function or temp table `s` creates, if it is such a definition. */
export function definitionOf(s: CorpusStmt): Definition | undefined {
  const m = body(s.sql).match(DEFINES);
  if (!m) return undefined;
  const name = m[4].replace(/`/g, '');
  if (name.includes('.') && !/^_SESSION\./i.test(name)) return undefined;
  return { kind: m[2] ? 'function' : 'table', name: name.replace(/^_SESSION\./i, '').toLowerCase(), stmt: s };
}

const PERSISTENT = /^CREATE\s+(?:OR\s+REPLACE\s+)?(?:AGGREGATE\s+|TABLE\s+)?(?:FUNCTION|PROCEDURE)\s+(?:IF\s+NOT\s+EXISTS\s+)?(`[^`]+`|[\w.-]+(?:\s*\.\s*`?[\w-]+`?)*)/i;

/** The `dataset.routine` (lower case) a persistent `CREATE [AGGREGATE | TABLE] FUNCTION` / `CREATE PROCEDURE` statement creates. */
export function persistentRoutineOf(s: CorpusStmt): string | undefined {
  const m = body(s.sql).match(PERSISTENT);
  const parts = m?.[1].replace(/[`\s]/g, '').split('.') ?? [];
  return parts.length >= 2 ? parts.slice(-2).join('.').toLowerCase() : undefined;
}

/** Names a statement uses, from its parse: unqualified function calls and one-part table names (`_SESSION.t` too). */
export function namesUsed(scope: Scope): Uses {
  const functions = new Set(scope.calls.filter((c) => c.kind === 'astFunctionCallNode' && c.name && !c.name.includes('.')).map((c) => c.name!.toLowerCase()));
  const tables = new Set(scope.tables.filter((t) => t.path.length === 1 || (t.path.length === 2 && /^_SESSION$/i.test(t.path[0])))
    .map((t) => t.path[t.path.length - 1].toLowerCase()));
  return { functions, tables };
}

export interface Uses { functions: Set<string>; tables: Set<string> }

/** Index of the corpus by document: each statement's position and the definitions before it. */
export class Documents {
  private readonly byDoc = new Map<string, CorpusStmt[]>();
  private readonly index = new Map<string, number>();

  constructor(all: CorpusStmt[]) {
    for (const s of all) {
      if (!s.source_path) continue;
      const list = this.byDoc.get(s.source_path) ?? this.byDoc.set(s.source_path, []).get(s.source_path)!;
      this.index.set(s.id, list.length);
      list.push(s);
    }
  }

  /**
   * The persistent routine definitions of `s`'s document before it, nearest earlier per
   * `dataset.routine` (lower case) — what routines.get returns once the document's script ran.
   */
  routinesBefore(s: CorpusStmt): Map<string, CorpusStmt> {
    const doc = s.source_path ? this.byDoc.get(s.source_path) : undefined;
    const at = this.index.get(s.id);
    const out = new Map<string, CorpusStmt>();
    for (let i = (at ?? 0) - 1; doc && i >= 0; i--) {
      const name = persistentRoutineOf(doc[i]);
      if (name && !out.has(name)) out.set(name, doc[i]);
    }
    return out;
  }

  /**
   * The definitions `s` uses (`uses`: the names its parse calls and reads; `usesOf`: the same for a
   * definition), nearest earlier per name, closed over what they use, in document order. Empty for
   * a statement with no document or nothing defined before it.
   */
  async definitionsFor(s: CorpusStmt, uses: Uses, usesOf: (d: CorpusStmt) => Promise<Uses>): Promise<CorpusStmt[]> {
    const doc = s.source_path ? this.byDoc.get(s.source_path) : undefined;
    const at = this.index.get(s.id);
    if (!doc || at === undefined) return [];
    const chosen = new Map<number, CorpusStmt>();
    const want = async (u: Uses, before: number) => {
      for (let i = before - 1; i >= 0; i--) {
        const d = definitionOf(doc[i]);
        if (!d || chosen.has(i)) continue;
        const used = d.kind === 'function' ? u.functions : u.tables;
        if (!used.has(d.name) || [...chosen.keys()].some((k) => k > i && definitionOf(doc[k])?.name === d.name && definitionOf(doc[k])?.kind === d.kind)) continue;
        chosen.set(i, doc[i]);
        await want(await usesOf(doc[i]), i);
      }
    };
    await want(uses, at);
    return [...chosen.entries()].sort((a, b) => a[0] - b[0]).map(([, x]) => x);
  }
}
