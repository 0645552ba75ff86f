/**
 * Reads the result table the GoogleSQL docs print under an example:
 *
 *   /*-----------+-------------+
 *    | json_name | scalar_name |
 *    +-----------+-------------+
 *    | "Jakob"   | Jakob       |
 *    +-----------+-------------*\/
 *
 * Columns are cut at the `|` of the header line (cells may hold `|`, as in `[1 | 2]`); a line whose
 * separators are not where the header puts them is split on ` | ` instead. Returns undefined for a
 * comment that is not such a table (prose, a query plan).
 */
export interface DocTable { columns: string[]; rows: string[][] }

export function parseTable(text: string): DocTable | undefined {
  const end = text.indexOf('*/');
  if (end < 0) return undefined;
  const lines = text.slice(0, end + 2).split('\n').map((l) => l.replace(/\s+$/, ''));
  const top = lines[0].replace(/^\s*/, (s) => s);
  if (!/^\s*\/\*-+[-+]*\+?$/.test(top)) return undefined;
  const body = lines.slice(1);
  const header = body.findIndex((l) => /^\s*\|/.test(l));
  if (header < 0) return undefined;
  // Column edges: the `|` of the header line (the top border does not always mark them).
  const bounds: number[] = [];
  for (let i = 0; i < body[header].length; i++) if (body[header][i] === '|') bounds.push(i);
  if (bounds.length < 2) return undefined;
  const cells = (line: string) => {
    // A short last cell may end early; a line ending in `|` elsewhere is not aligned (a wide character before it: string_functions#code_points_to_string)
    const aligned = bounds.every((b, k) => (k === bounds.length - 1 ? line[b] === '|' || (line.length <= b + 1 && !line.endsWith('|')) : line[b] === '|'));
    if (aligned) return bounds.slice(0, -1).map((b, k) => line.slice(b + 1, bounds[k + 1]).trim());
    const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
    return inner.split(' | ').map((c) => c.trim());
  };
  // `+---+` and `---*/`, and `|---|` (some pages rule the header off that way: string_functions#repeat)
  const isBorder = (l: string) => /^\s*\+[-+]+(\*\/)?$/.test(l) || /^\s*[-+]+\*\/$/.test(l) || /^\s*\|[-|+]+\|$/.test(l);
  const columns = cells(body[header]);
  const rows: string[][] = [];
  for (const l of body.slice(header + 1)) {
    if (isBorder(l) || !l.trim()) continue;
    if (!/^\s*\|/.test(l)) return undefined;
    const r = cells(l);
    if (r.length !== columns.length) return undefined;
    rows.push(r);
  }
  return { columns, rows };
}
