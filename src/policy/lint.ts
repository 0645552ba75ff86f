/**
 * Policy lint: schema errors with file, line and column (from the YAML document's source ranges),
 * duplicate rule ids, and — given the live catalog — table and column patterns that match nothing,
 * so a typo cannot silently disable a mask or a deny.
 */
import AjvModule from 'ajv';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument, LineCounter, isNode } from 'yaml';
import { POLICY_SCHEMA_FILE, nameGlob, columnMatches, verbMatches, type Rule } from './index.js';

const Ajv = (AjvModule as any).default ?? AjvModule;

export interface LintProblem { file: string; line: number; col: number; message: string }

/** The live catalog for lint: every table (and model: its feature and label columns) with its column names and their BigQuery policy tags. */
export type CatalogListing = Array<{ table: string; columns: string[]; policyTags?: Record<string, string[]>; model?: true }>;

/** Lints every policy file in `dir`; with `catalog`, also checks that patterns match something. */
export function lintPolicies(dir: string, catalog?: CatalogListing): LintProblem[] {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(POLICY_SCHEMA_FILE, 'utf8')));
  const problems: LintProblem[] = [];
  const ids = new Map<string, string>();
  const classifications: Record<string, string[]> = {};
  const pending: Array<() => void> = [];
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
  for (const f of files) {
    const lc = new LineCounter();
    const doc = parseDocument(readFileSync(join(dir, f), 'utf8'), { lineCounter: lc });
    const at = (path: Array<string | number>, message: string) => {
      let node: unknown = doc.getIn(path, true);
      while (!isNode(node) && path.length) { path = path.slice(0, -1); node = doc.getIn(path, true); }
      const offset = isNode(node) && node.range ? node.range[0] : 0;
      const pos = lc.linePos(offset);
      problems.push({ file: f, line: pos.line, col: pos.col, message });
    };
    for (const e of doc.errors) { const pos = lc.linePos(e.pos[0]); problems.push({ file: f, line: pos.line, col: pos.col, message: e.message }); }
    if (doc.errors.length) continue;
    const data = doc.toJS();
    if (!validate(data)) {
      for (const e of validate.errors ?? []) {
        const path = e.instancePath.split('/').slice(1).map((p: string) => (/^\d+$/.test(p) ? Number(p) : p));
        at(path, `${e.instancePath || '/'} ${e.message}${e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : ''}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ''}`);
      }
      continue;
    }
    for (const [tag, globs] of Object.entries((data.classifications ?? {}) as Record<string, string[]>)) classifications[tag] = [...(classifications[tag] ?? []), ...globs];
    (data.rules as Rule[]).forEach((r, i) => {
      if (ids.has(r.id)) at(['rules', i, 'id'], `duplicate rule id ${r.id} (also in ${ids.get(r.id)})`);
      ids.set(r.id, f);
      for (const k of ['not_before', 'expires'] as const) if (r[k] && Number.isNaN(Date.parse(r[k]!))) at(['rules', i, k], `${k} is not an RFC 3339 date-time`);
      if (r.effect === 'mask' && !r.masks?.length) at(['rules', i], 'a mask rule needs masks');
      if (r.effect !== 'mask' && r.masks) at(['rules', i, 'masks'], 'masks are only read on effect: mask rules');
      if (r.effect === 'filter' && (!r.filter || !r.tables?.length)) at(['rules', i], 'a filter rule needs tables and a filter predicate');
      if (r.effect !== 'filter' && r.filter) at(['rules', i, 'filter'], 'filter is only read on effect: filter rules');
      if (r.effect === 'limit' && !r.limits) at(['rules', i], 'a limit rule needs limits');
      if (r.effect === 'require_approval' && !r.approval) at(['rules', i], 'a require_approval rule needs approval (approvers.groups)');
      for (const k of ['external_connections', 'export_destinations', 'load_sources'] as const) if (r.effect !== 'allow' && r[k]) at(['rules', i, k], `${k} is only read on effect: allow rules`);
      if (r.load_sources && r.verbs && !verbMatches(r.verbs, 'LOAD_DATA')) at(['rules', i, 'load_sources'], 'load_sources is read for LOAD_DATA (or its alias LOAD), which the rule\'s verbs do not include');
      if (r.export_destinations && r.verbs && !verbMatches(r.verbs, 'EXPORT_DATA')) at(['rules', i, 'export_destinations'], 'export_destinations is read for EXPORT_DATA (or its alias EXTRACT), which the rule\'s verbs do not include');
      if (r.effect !== 'require_approval' && r.approval) at(['rules', i, 'approval'], 'approval is only read on effect: require_approval rules');
      if (!catalog) return;
      // Checked once every file's classifications are known.
      pending.push(() => {
        (r.tables ?? []).forEach((t, j) => {
          if (!catalog.some((c) => nameGlob(t, c.table))) at(['rules', i, 'tables', j], `table pattern ${t} matches no table in the catalog`);
        });
        const cols = catalog.flatMap((c) => c.columns.map((col) => {
          const full = `${c.table}.${col}`;
          const declared = Object.entries(classifications).filter(([, globs]) => globs.some((g) => nameGlob(g, full))).map(([tag]) => tag);
          return { full, tags: [...declared, ...(c.policyTags?.[col] ?? [])] };
        }));
        (r.columns ?? []).forEach((c, j) => { if (!cols.some((x) => columnMatches(c, x))) at(['rules', i, 'columns', j], `column pattern ${c} matches no column in the catalog`); });
        (r.masks ?? []).forEach((m, j) => { if (!cols.some((x) => columnMatches(m.column, x))) at(['rules', i, 'masks', j, 'column'], `masked column ${m.column} matches no column in the catalog: the mask would never apply`); });
      });
    });
  }
  pending.forEach((f) => f());
  return problems;
}
