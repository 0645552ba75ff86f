/**
 * The tables a reference page defines for its examples (issue 20's docs cases): many examples read
 * `Produce`, `Roster`, `SalesTable`, … which the page defines once, in a block of its own
 * (`WITH Produce AS (…) SELECT * FROM Produce`, or `CREATE [OR REPLACE] [TEMP] TABLE Produce AS (…)`),
 * before the examples or in an appendix ("Appendix A: examples with sample data" of query-syntax).
 * An example that reads such a name without defining it gets the page's definition as a leading
 * CTE, so it runs as the page means it (a CTE and a table of the same rows answer alike).
 *
 * `pageTables(md)`: every definition on the page, with the markdown line it starts on.
 * `withPageTables(sql, defs, line)`: `sql` with a `WITH name AS (body)` for each name it reads
 * (FROM / JOIN / a comma join) that it does not define itself; the definition used is the nearest one
 * before `line`, else the first after it (an appendix). Returns the names added, [] when none.
 */

export interface PageTable { name: string; body: string; line: number }

/** The index just past the parenthesis that closes the one at `open` (quotes skipped), or -1. */
function closing(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const ch = s[i];
    if (ch === "'" || ch === '"' || ch === '`') { const end = s.indexOf(ch, i + 1); if (end < 0) return -1; i = end; continue; }
    if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i + 1;
  }
  return -1;
}

const DEFINE = [
  /^\s*WITH\s+(\w+)\s+AS\s*\(/i, // WITH Name AS (…) SELECT * FROM Name
  /^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?TABLE\s+(\w+)\s+AS\s*\(/i,
];

/** The definitions of one page's markdown: one per code block that is only a table's definition (and its SELECT *). */
export function pageTables(md: string): PageTable[] {
  const out: PageTable[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(zetasql|sql|googlesql)\s*$/.test(lines[i])) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    const text = body.join('\n').replace(/\/\*[\s\S]*?\*\//g, '').trim();
    for (const re of DEFINE) {
      const m = re.exec(text);
      if (!m) continue;
      const open = m[0].length - 1;
      const end = closing(text, open);
      if (end < 0) break;
      const rest = text.slice(end).replace(/;/g, ' ').trim();
      // Only a definition: what follows is nothing or `SELECT * FROM Name`.
      if (rest && !new RegExp(`^SELECT\\s+\\*\\s+FROM\\s+${m[1]}$`, 'i').test(rest)) break;
      out.push({ name: m[1], body: text.slice(open + 1, end - 1).trim(), line: start + 1 });
      break;
    }
  }
  return out;
}

/** The names `sql` reads as tables and does not define (compared case-insensitively, as GoogleSQL compares CTE names). */
function undefinedReads(sql: string, names: Set<string>): string[] {
  const code = sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''");
  const read = new Set<string>();
  // After FROM, JOIN or a comma (a comma join; a select item named like a page table would count too, which no page has).
  for (const m of code.matchAll(/(?:\bFROM|\bJOIN|,)\s*(\w+)/gim)) {
    const n = m[1].toLowerCase();
    if (names.has(n)) read.add(n);
  }
  return [...read].filter((n) => !new RegExp(`\\b${n}\\s+AS\\s*\\(|\\bTABLE\\s+${n}\\b`, 'i').test(code));
}

/** `sql` with the page's definitions of the tables it reads as leading CTEs (see the module comment). */
export function withPageTables(sql: string, defs: PageTable[], line: number): { sql: string; added: string[] } {
  const byName = new Map<string, PageTable[]>();
  for (const d of defs) byName.set(d.name.toLowerCase(), [...(byName.get(d.name.toLowerCase()) ?? []), d]);
  const need = undefinedReads(sql, new Set(byName.keys()));
  if (!need.length) return { sql, added: [] };
  const ctes = need.map((n) => {
    const all = byName.get(n)!;
    const d = [...all].reverse().find((x) => x.line < line) ?? all.find((x) => x.line > line)!;
    return `${d.name} AS (${d.body})`;
  });
  const body = sql.trim();
  const m = /^WITH(\s+RECURSIVE)?\s+/i.exec(body);
  const out = m ? `WITH${m[1] ?? ''} ${ctes.join(', ')}, ${body.slice(m[0].length)}` : `WITH ${ctes.join(', ')}\n${body}`;
  return { sql: out, added: need.map((n) => byName.get(n)![0].name) };
}
