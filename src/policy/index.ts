/**
 * `policy/`: Principal + QueryAnalysis → Decision, from the YAML files in the policies directory
 * (validated against policies/policy.schema.json).
 *
 * Semantics: default deny; a deny rule that matches wins over any allow; every table read needs an
 * allow rule for SELECT, every table written (and every non-SELECT statement) an allow rule for its
 * verb; a column deny refuses a statement that uses the column anywhere; masks are collected per
 * column and, where several apply, BigQuery's masking hierarchy picks one
 * (https://cloud.google.com/bigquery/docs/column-data-masking-intro#masking_hierarchy).
 * Rules with `not_before` / `expires` apply only inside that window.
 */
import { pathParts } from '../bigquery/table-path.js';
import AjvModule from 'ajv';

const Ajv = AjvModule.default ?? AjvModule;
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { Principal } from '../auth/index.js';
import { BigQueryError } from '../bigquery/errors.js';
import type { QueryAnalysis } from '../sql/index.js';
import { encodeString } from '../sql/canonical.js';
import type { BqField } from '../emulator/encode.js';

export type MaskRule = 'SHA256' | 'HMAC_SHA256' | 'RANDOM_HASH' | 'ALWAYS_NULL' | 'DEFAULT_MASKING_VALUE' | 'LAST_FOUR_CHARACTERS' | 'FIRST_FOUR_CHARACTERS' | 'EMAIL_MASK' | 'DATE_YEAR_MASK';
/**
 * A mask a decision can carry: a policy's MaskRule, or one the gateway places itself and no policy
 * file may name (policies/policy.schema.json lists MaskRule only): REDACT_MASK_SECRETS, a STRING
 * with the HMAC_SHA256 pads and RANDOM_HASH salts of earlier rewrites replaced (rewrite/masks.ts).
 */
export type AppliedMaskRule = MaskRule | 'REDACT_MASK_SECRETS';

/**
 * BigQuery's masking hierarchy, highest priority first; bqgate's keyed HMAC_SHA256 ranks where
 * BigQuery puts custom masking routines (first), RANDOM_HASH beside SHA256.
 */
export const MASK_PRIORITY: MaskRule[] = ['HMAC_SHA256', 'SHA256', 'RANDOM_HASH', 'EMAIL_MASK', 'LAST_FOUR_CHARACTERS', 'FIRST_FOUR_CHARACTERS', 'DATE_YEAR_MASK', 'DEFAULT_MASKING_VALUE', 'ALWAYS_NULL'];

export type PrincipalMatch = '*' | { groups?: string[]; subjects?: string[]; emails?: string[]; actors?: string[]; claims?: Record<string, string | string[]> };

export interface Rule {
  id: string;
  description?: string;
  effect: 'allow' | 'deny' | 'mask' | 'filter' | 'limit' | 'require_approval';
  principals: PrincipalMatch;
  verbs?: string[];
  tables?: string[];
  columns?: string[];
  masks?: Array<{ column: string; rule: MaskRule }>;
  /** effect: limit — caps (see policy.schema.json). */
  limits?: { maximum_bytes_billed?: number; maximum_rows?: number };
  /** effect: filter — the row predicate (see policy.schema.json). */
  filter?: string;
  /** effect: require_approval — who approves, and when the rule applies (see policy.schema.json). */
  approval?: {
    approvers: { groups: string[]; count?: number };
    min_bytes_processed?: number;
    expires_after_seconds?: number;
    reuse_seconds?: number;
    break_glass_groups?: string[];
  };
  /** EXPORT_DATA (EXPORT DATA, extract jobs): destination URI globs this allow permits. */
  export_destinations?: string[];
  /** LOAD_DATA (LOAD DATA … FROM FILES, load jobs): source URI globs this allow permits (a load of an uploaded file names none). */
  load_sources?: string[];
  /** EXTERNAL_QUERY: connection id globs (`project.location.connection`, as written) this allow permits. */
  external_connections?: string[];
  /** effect: allow — the service account the statement's job runs as upstream (impersonated by the gateway). */
  upstream_service_account?: string;
  not_before?: string;
  expires?: string;
  /** The file the rule came from. */
  source?: string;
}

export interface Policy {
  rules: Rule[];
  /** Declared classification tags: tag → column globs (merged over the files). */
  classifications?: Record<string, string[]>;
  /** Gateway roles → groups (merged over the files): `auditors`, `approvers`, `admins`. */
  roles?: { auditors?: string[]; approvers?: string[]; admins?: string[] };
  /** SHA-256 (12 hex) over the policy files' contents. */
  version: string;
}

/** What the gateway does with a request. */
export interface Decision {
  effect: 'allow' | 'deny';
  /** Ids of the rules that decided: the allows used, the denial, the masks applied. */
  matchedRules: string[];
  /** Human-readable reasons, one per check that failed or passed notably. */
  reasons: string[];
  /** table → column → masking rule (and the rule id that set it). */
  masks: Record<string, Record<string, { rule: AppliedMaskRule; ruleId: string }>>;
  /** table → columns that must never reach the caller (projected as NULL if unreferenced). */
  deniedColumns: Record<string, string[]>;
  /**
   * table → the row filters (GoogleSQL predicates, principal values substituted) whose union the
   * caller sees; an empty list means no rows. Tables without filter rules are absent.
   */
  rowFilters: Record<string, string[]>;
  /** The smallest caps of the limit rules that apply: bytes billed per job, rows delivered per job. */
  limits: { maximumBytesBilled?: number; maximumRows?: number };
  /** Approvals the statement needs before it runs (require_approval rules that matched); none when absent. */
  approvals?: ApprovalRequirement[];
  /** The service account the job runs as upstream (an allow rule's `upstream_service_account`). */
  upstreamServiceAccount?: string;
  policyVersion: string;
}

/** One require_approval rule a statement matched. Times in seconds; bytes in bytes. */
export interface ApprovalRequirement {
  ruleId: string;
  description?: string;
  approverGroups: string[];
  /** Distinct approvers from `approverGroups` needed. */
  count: number;
  /** The rule applies only if the dry-run estimate is at least this (decided by the gateway). */
  minBytesProcessed?: number;
  expiresAfterSeconds: number;
  reuseSeconds: number;
  breakGlassGroups: string[];
}

const here = dirname(fileURLToPath(import.meta.url));
/** The JSON Schema policy files follow (for editors, lint and loading). */
export const POLICY_SCHEMA_FILE = join(here, '..', '..', 'policies', 'policy.schema.json');

/** Reads and validates every `*.yaml`/`*.yml` in `dir`. Throws with file and path on an invalid file. */
export function loadPolicy(dir: string): Policy {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(readFileSync(POLICY_SCHEMA_FILE, 'utf8')));
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
  const hash = createHash('sha256');
  const rules: Rule[] = [];
  const classifications: Record<string, string[]> = {};
  const roles: Required<NonNullable<Policy['roles']>> = { auditors: [], approvers: [], admins: [] };
  const ids = new Set<string>();
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    hash.update(f).update('\0').update(text);
    const doc = parseYaml(text);
    if (!validate(doc)) {
      const e = validate.errors?.[0];
      throw new Error(`policy ${f}: ${e?.instancePath || '/'} ${e?.message}`);
    }
    for (const [tag, cols] of Object.entries((doc as { classifications?: Record<string, string[]> }).classifications ?? {})) {
      classifications[tag] = [...(classifications[tag] ?? []), ...cols];
    }
    const docRoles = (doc as { roles?: Policy['roles'] }).roles ?? {};
    roles.auditors.push(...(docRoles.auditors ?? []));
    roles.approvers.push(...(docRoles.approvers ?? []));
    roles.admins.push(...(docRoles.admins ?? []));
    for (const r of (doc as { rules: Rule[] }).rules) {
      if (ids.has(r.id)) throw new Error(`policy ${f}: duplicate rule id ${r.id}`);
      ids.add(r.id);
      rules.push({ ...r, source: f });
    }
  }
  return { rules, classifications, roles, version: hash.digest('hex').slice(0, 12) };
}

/** Whether `groups` hold gateway role `role` under `policy` (admins hold every role). */
export function hasRole(policy: Pick<Policy, 'roles'>, groups: string[], role: 'auditors' | 'approvers' | 'admins'): boolean {
  const allowed = [...(policy.roles?.[role] ?? []), ...(policy.roles?.admins ?? [])];
  return groups.some((g) => allowed.includes(g));
}

/**
 * The gateway roles `groups` hold (the console's roles): `admin` (roles.admins), `auditor`
 * (roles.auditors), `approver` (roles.approvers, or an approver or break-glass group of any
 * require_approval rule). Admins hold all three.
 */
export function rolesOf(policy: Pick<Policy, 'roles' | 'rules'>, groups: string[]): { admin: boolean; auditor: boolean; approver: boolean } {
  const admin = hasRole(policy, groups, 'admins');
  const deciders = policy.rules.flatMap((r) => [...(r.approval?.approvers.groups ?? []), ...(r.approval?.break_glass_groups ?? [])]);
  return { admin, auditor: hasRole(policy, groups, 'auditors'), approver: hasRole(policy, groups, 'approvers') || groups.some((g) => deciders.includes(g)) };
}

/** Globs over dotted names (subjects, emails, verbs, connections): `*` matches within one dotted segment; case-insensitive. */
export function glob(pattern: string, value: string): boolean {
  return pattern === '*' || globRegex(pattern, '.', false, 'i').test(value);
}
/**
 * Name globs for project.dataset.table[.column]: `*` matches within one part, where a domain-scoped
 * project (`example.com:p`) is one part (bigquery/table-path.ts), so `*.ds.*` covers
 * `example.com:p.ds.t` and `example.*` covers no part of it; case-insensitive.
 */
export function nameGlob(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const want = pathParts(pattern);
  const got = pathParts(value);
  return want.length === got.length && want.every((w, i) => globRegex(w, '', false, 'i').test(got[i]));
}
/** URI globs: `*` within a path segment, `**` across segments. */
function uriGlob(pattern: string, uri: string): boolean {
  return globRegex(pattern, '/', true).test(uri);
}
/** Compiled globs (a policy's patterns: a few hundred at most; bounded all the same, oldest dropped first). */
const GLOBS = new Map<string, RegExp>();
/** The anchored regex of a glob whose `*` stays within `sep`-separated segments (and `**` crosses them when `deep`); compiled once per pattern. */
function globRegex(pattern: string, sep: string, deep: boolean, flags = ''): RegExp {
  const key = `${sep}${deep ? 1 : 0}${flags}\u0000${pattern}`;
  let re = GLOBS.get(key);
  if (re) return re;
  const part = (p: string) => p.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join(sep ? `[^${sep}]*` : '.*');
  re = new RegExp(`^${(deep ? pattern.split('**') : [pattern]).map(part).join('.*')}$`, flags); // no g/y flag: test() keeps no state
  if (GLOBS.size >= 10_000) GLOBS.delete(GLOBS.keys().next().value!);
  GLOBS.set(key, re);
  return re;
}
/** A column as rules see it: `project.dataset.table.column` and its classification tags. */
export interface ColumnId { full: string; tags: string[] }

/**
 * The column's tags: the declared classifications whose globs match it, and the BigQuery policy
 * tags (resource names) on its schema field.
 */
export function columnId(policy: Pick<Policy, 'classifications'>, table: string, column: string, schema?: BqField[]): ColumnId {
  const full = `${table}.${column}`;
  const tags = Object.entries(policy.classifications ?? {}).filter(([, globs]) => globs.some((g) => nameGlob(g, full))).map(([t]) => t);
  const field = schema?.find((f) => f.name === column);
  return { full, tags: [...tags, ...(field?.policyTags?.names ?? [])] };
}

/** A rule's column pattern against a column: a name glob, or `tag:GLOB` over its tags (`*` within a path segment, `**` across). */
export function columnMatches(pattern: string, c: ColumnId): boolean {
  return pattern.startsWith('tag:') ? c.tags.some((t) => uriGlob(pattern.slice(4), t)) : nameGlob(pattern, c.full);
}

const anyGlob = (patterns: string[] | undefined, value: string) => !patterns || patterns.some((p) => nameGlob(p, value));

/**
 * Verbs a rule may also be written with, and the verb each stands for: the REST job kinds, named
 * after the SQL statements they equal (load jobs are LOAD DATA, extract jobs EXPORT DATA), so one
 * rule governs both spellings of the operation.
 */
export const VERB_ALIASES: Readonly<Record<string, string>> = { LOAD: 'LOAD_DATA', EXTRACT: 'EXPORT_DATA' };

/** Whether a rule's `verbs` (absent: every verb) cover `verb`, aliases included. */
export function verbMatches(patterns: string[] | undefined, verb: string): boolean {
  return !patterns || patterns.some((p) => glob(VERB_ALIASES[p.toUpperCase()] ?? p, verb));
}

/**
 * Whether source URI `uri` of a load is within URI glob `pattern`. A URI with a wildcard stands
 * for every object it matches, and BigQuery's `*` there spans `/` (Cloud Storage names are
 * flat): it is within the pattern only when the pattern ends with `**` and covers the URI's
 * text before its first `*`, so that every object the wildcard reaches is covered.
 * https://cloud.google.com/bigquery/docs/batch-loading-data#load-wildcards
 */
function sourceWithin(pattern: string, uri: string): boolean {
  const star = uri.indexOf('*');
  return star < 0 ? uriGlob(pattern, uri) : pattern.endsWith('**') && uriGlob(pattern, uri.slice(0, star));
}

export function principalMatches(m: PrincipalMatch, p: Principal): boolean {
  if (m === '*') return true;
  if (m.groups && !m.groups.some((g) => p.groups.includes(g))) return false;
  if (m.subjects && !m.subjects.some((s) => glob(s, p.subject))) return false;
  if (m.emails && !(p.email && m.emails.some((e) => glob(e, p.email!)))) return false;
  if (m.actors && !(p.actor && m.actors.some((a) => glob(a, p.actor!)))) return false;
  for (const [claim, want] of Object.entries(m.claims ?? {})) {
    const got = p.claims[claim];
    const values = Array.isArray(got) ? got.map(String) : got === undefined ? [] : [String(got)];
    const wants = Array.isArray(want) ? want : [want];
    if (!values.some((v) => wants.includes(v))) return false;
  }
  return true;
}

function inWindow(r: Rule, now: number): boolean {
  if (r.not_before && now < Date.parse(r.not_before)) return false;
  if (r.expires && now >= Date.parse(r.expires)) return false;
  return true;
}

/** The rules that apply to `principal` now. */
export function rulesFor(policy: Policy, principal: Principal, now = Date.now()): Rule[] {
  return policy.rules.filter((r) => inWindow(r, now) && principalMatches(r.principals, principal));
}

export const who = (p: Principal) => `${p.subject}${p.actor ? ` (actor ${p.actor})` : ''}${p.groups.length ? ` [groups: ${p.groups.join(', ')}]` : ' [no groups]'}`;

/**
 * Whether any allow rule applies to `principal` now. Without one, `decide` refuses every statement
 * (default deny), so the gateway refuses before analyzing anything (`requireAnyAllow`).
 */
export function hasAnyAllow(policy: Policy, principal: Principal, now = Date.now()): boolean {
  return rulesFor(policy, principal, now).some((r) => r.effect === 'allow');
}

/**
 * Throws `BigQueryError('accessDenied')` when no allow rule applies to `principal` (`hasAnyAllow`):
 * the message names the principal and its groups, and that nothing was analyzed or run.
 */
export function requireAnyAllow(policy: Policy, principal: Principal, now = Date.now()): void {
  if (hasAnyAllow(policy, principal, now)) return;
  throw new BigQueryError('accessDenied', `Access Denied: no bqgate policy rule allows anything for ${who(principal)} (default deny), so the statement was neither analyzed nor run. An allow rule must name one of the principal's groups (or its subject or email) before it can query.`);
}

/**
 * Whether some allow rule for `principal` lists `connection` in external_connections (any verb;
 * `decide` checks the statement's verb). Asked before the analyzer dry-runs an EXTERNAL_QUERY whose
 * columns it must learn from the upstream (sql/tvfs), so a caller no rule allows never has the
 * other database reached on its behalf.
 */
export function allowsExternalConnection(policy: Policy, principal: Principal, connection: string, now = Date.now()): boolean {
  return rulesFor(policy, principal, now).some((r) => r.effect === 'allow' && r.external_connections?.some((c) => glob(c, connection)));
}

/**
 * Decides a statement. Pure: same inputs, same Decision.
 * A BigQuery ML model read (`modelsRead`) is decided like a table of its dataset, as BigQuery's IAM
 * governs it (bigquery.models.getData): a table rule's `tables` patterns match it by its full name,
 * deny rules deny it, and with no allow rule it is refused (default deny). A model has no scan to
 * project, so a mask, denied column or row filter that would apply to it refuses the statement.
 */
export function decide(policy: Policy, principal: Principal, a: Pick<QueryAnalysis, 'statementKind' | 'tablesRead' | 'tablesWritten' | 'columnsRead' | 'tables'> & Partial<Pick<QueryAnalysis, 'modelsRead' | 'models'>> & { flags?: { exportUri?: string; exportUris?: Array<string | null>; loadUris?: Array<string | null>; externalConnections?: string[] } }, now = Date.now()): Decision {
  const rules = rulesFor(policy, principal, now);
  const d: Decision = { effect: 'allow', matchedRules: [], reasons: [], masks: {}, deniedColumns: {}, rowFilters: {}, limits: limitsFor(rules), policyVersion: policy.version };
  const deny = (ruleId: string | undefined, reason: string): Decision => {
    if (ruleId) d.matchedRules.push(ruleId);
    return { ...d, effect: 'deny', reasons: [reason], masks: {}, rowFilters: {} };
  };
  // Temp tables of a script (_SESSION.*) are its own scratch space: reading and filling them needs
  // no rule (what goes in was read, and masked, under the rules).
  const scratch = (t: string) => t.startsWith('_SESSION.');
  const tempOnly = a.statementKind === 'CREATE_TABLE_AS_SELECT' && a.tablesWritten.length > 0 && a.tablesWritten.every(scratch);
  const verb = tempOnly ? 'SELECT' : a.statementKind;
  const verbRule = (r: Rule, v: string) => (r.effect === 'allow' || r.effect === 'deny') && !r.columns && !r.masks && verbMatches(r.verbs, v);

  // Statement verb: non-SELECT statements need their verb allowed on what they write (or anywhere).
  const models = a.modelsRead ?? [];
  const isModel = new Set(models);
  const targets: Array<[string, string]> = [
    ...a.tablesRead.filter((t) => !scratch(t)).map((t) => ['SELECT', t] as [string, string]),
    ...models.map((m) => ['SELECT', m] as [string, string]),
    ...a.tablesWritten.filter((t) => !scratch(t)).map((t) => [verb, t] as [string, string]),
  ];
  if (verb !== 'SELECT' && a.tablesWritten.length === 0) targets.push([verb, '*']);
  if (targets.length === 0 && !rules.some((r) => r.effect === 'allow')) {
    return deny(undefined, `Access Denied: no bqgate policy rule allows ${who(principal)} to run queries (default deny). This principal has no allow rules.`);
  }
  for (const [v, table] of targets) {
    const what = table === '*' ? 'any table' : isModel.has(table) ? `model ${table}` : table;
    const denial = rules.find((r) => r.effect === 'deny' && verbRule(r, v) && (table === '*' || anyGlob(r.tables, table)) && (r.verbs || r.tables));
    if (denial) return deny(denial.id, `Access Denied: bqgate rule ${denial.id} denies ${v} on ${what} to ${who(principal)}.${denial.description ? ` ${denial.description}` : ''}`);
    const allow = rules.find((r) => r.effect === 'allow' && verbRule(r, v) && (table === '*' ? !r.tables || r.tables.includes('*') : anyGlob(r.tables, table)));
    if (!allow) {
      const allowed = rules.filter((r) => r.effect === 'allow').map((r) => `${(r.verbs ?? ['any verb']).join('/')} on ${(r.tables ?? ['any table']).join(', ')}`);
      const asTable = isModel.has(table) ? ' A model is allowed like a table of its dataset: by a rule whose tables match its full name.' : '';
      return deny(undefined, `Access Denied: no bqgate policy rule allows ${who(principal)} to ${v} ${table === '*' ? '' : what + ' '}(default deny).${asTable}${allowed.length ? ` Allowed: ${allowed.join('; ')}.` : ' This principal has no allow rules.'}`);
    }
    if (!d.matchedRules.includes(allow.id)) d.matchedRules.push(allow.id);
  }

  // EXPORT DATA and extract jobs (and a procedure that exports): every destination must be one an allow rule names.
  const exportUris = a.flags?.exportUris ?? (a.flags?.exportUri ? [a.flags.exportUri] : []);
  if (verb === 'EXPORT_DATA' || exportUris.length) {
    if (!exportUris.length) return deny(undefined, `Access Denied: ${verb} without a destination bqgate can read is refused: write the uri option as a string literal.`);
    for (const uri of exportUris) {
      if (uri === null) return deny(undefined, `Access Denied: an EXPORT DATA destination of this ${verb} is missing or not a string literal, so bqgate cannot check it against export_destinations; write the uri option as a string literal.`);
      const ok = rules.find((r) => r.effect === 'allow' && verbRule(r, verb) && r.export_destinations?.some((dst) => uriGlob(dst, uri)));
      if (!ok) return deny(undefined, `Access Denied: no bqgate policy rule allows ${who(principal)} to export (${verb}) to ${uri}; allow rules must list it in export_destinations.`);
      if (!d.matchedRules.includes(ok.id)) d.matchedRules.push(ok.id);
    }
  }

  // LOAD DATA and load jobs: the gateway's credential reads the sources, so every source URI must be
  // one an allow rule names (default deny); a load of an uploaded file (loadUris []) names none.
  const loadUris = a.flags?.loadUris;
  if (verb === 'LOAD_DATA' || loadUris?.length) {
    if (!loadUris) return deny(undefined, `Access Denied: ${verb} without source URIs bqgate can read is refused: write FROM FILES (uris = [...]) with string literals.`);
    for (const uri of loadUris) {
      if (uri === null) return deny(undefined, `Access Denied: a source URI of this ${verb} is missing or not a string literal (a query parameter or an expression), so bqgate cannot check it against load_sources; write the uris as string literals.`);
      const ok = rules.find((r) => r.effect === 'allow' && verbRule(r, verb) && r.load_sources?.some((src) => sourceWithin(src, uri)));
      if (!ok) return deny(undefined, `Access Denied: no bqgate policy rule allows ${who(principal)} to load (${verb}) from ${uri}; allow rules must list it in load_sources${uri.includes('*') ? ' (a wildcard URI needs a pattern ending in ** that covers its text before the *)' : ''}.`);
      if (!d.matchedRules.includes(ok.id)) d.matchedRules.push(ok.id);
    }
  }

  // EXTERNAL_QUERY: its inner statement runs in another database, which bqgate cannot analyze, so
  // every connection must be one an allow rule names explicitly (as export destinations are).
  for (const conn of a.flags?.externalConnections ?? []) {
    const ok = rules.find((r) => r.effect === 'allow' && verbRule(r, verb) && r.external_connections?.some((c) => glob(c, conn)));
    if (!ok) return deny(undefined, `Access Denied: EXTERNAL_QUERY on connection ${conn} runs a statement in another database that bqgate cannot analyze; no bqgate policy rule allows ${who(principal)} to use it. Allow rules must list the connection in external_connections.`);
    if (!d.matchedRules.includes(ok.id)) d.matchedRules.push(ok.id);
  }

  const unprojectable = modelRefusal(policy, principal, rules, models, a.models ?? {}, now);
  if (unprojectable) return deny(unprojectable.ruleId, unprojectable.reason);

  // Column denies: a denied column used anywhere refuses the statement.
  for (const { table, column } of a.columnsRead) {
    const col = columnId(policy, table, column, a.tables[table]);
    const denial = rules.find((r) => r.effect === 'deny' && r.columns?.some((c) => columnMatches(c, col)));
    if (denial) {
      return deny(denial.id, `Access Denied: bqgate rule ${denial.id} denies column ${table}.${column} to ${who(principal)}. Remove it from the query; for SELECT * use SELECT * EXCEPT (${column}).`);
    }
  }

  // Denied columns not referenced, and masks, for every column of every table read.
  for (const table of a.tablesRead) {
    for (const field of a.tables[table] ?? []) {
      const col = columnId(policy, table, field.name, a.tables[table]);
      if (rules.some((r) => r.effect === 'deny' && r.columns?.some((c) => columnMatches(c, col)))) {
        (d.deniedColumns[table] ??= []).push(field.name);
        continue;
      }
      let best: { rule: MaskRule; ruleId: string } | undefined;
      for (const r of rules) {
        if (r.effect !== 'mask') continue;
        for (const m of r.masks ?? []) {
          if (columnMatches(m.column, col) && (!best || MASK_PRIORITY.indexOf(m.rule) < MASK_PRIORITY.indexOf(best.rule))) best = { rule: m.rule, ruleId: r.id };
        }
      }
      if (best) {
        (d.masks[table] ??= {})[field.name] = best;
        if (!d.matchedRules.includes(best.ruleId)) d.matchedRules.push(best.ruleId);
      }
    }
  }
  // Row filters (row access policies): the union of the caller's filters, or no rows at all.
  for (const table of a.tablesRead) {
    const all = policy.rules.filter((r) => r.effect === 'filter' && inWindow(r, now) && anyGlob(r.tables, table));
    if (!all.length) continue;
    const mine = all.filter((r) => principalMatches(r.principals, principal));
    const filters = mine.map((r) => substitutePrincipal(r.filter ?? 'FALSE', principal));
    // A TRUE in the union means every row: nothing to filter (and no projection needed for it).
    if (!filters.some((f) => /^\s*\(?\s*TRUE\s*\)?\s*$/i.test(f))) d.rowFilters[table] = filters;
    for (const r of mine) if (!d.matchedRules.includes(r.id)) d.matchedRules.push(r.id);
    if (!mine.length) d.reasons.push(`No row filter of ${table} applies to ${principal.subject}: no rows.`);
  }
  // Approvals: require_approval rules matching the statement's verb, tables or columns.
  const touched = [...a.tablesRead.map((t) => ['SELECT', t]), ...models.map((m) => ['SELECT', m]), ...a.tablesWritten.map((t) => [verb, t])] as Array<[string, string]>;
  if (verb !== 'SELECT' && !a.tablesWritten.length) touched.push([verb, '*']);
  for (const r of rules) {
    if (r.effect !== 'require_approval' || !r.approval) continue;
    const verbOk = (v: string) => verbMatches(r.verbs, v);
    const tableOk = (t: string) => !r.tables || (t !== '*' && anyGlob(r.tables, t));
    const hit = r.columns
      ? a.columnsRead.some(({ table, column }) => verbOk(a.tablesWritten.includes(table) ? verb : 'SELECT') && tableOk(table) && r.columns!.some((c) => columnMatches(c, columnId(policy, table, column, a.tables[table]))))
      : touched.some(([v, t]) => verbOk(v) && tableOk(t));
    if (!hit) continue;
    (d.approvals ??= []).push({
      ruleId: r.id, description: r.description, approverGroups: r.approval.approvers.groups, count: r.approval.approvers.count ?? 1,
      minBytesProcessed: r.approval.min_bytes_processed, expiresAfterSeconds: r.approval.expires_after_seconds ?? 3600,
      reuseSeconds: r.approval.reuse_seconds ?? 0, breakGlassGroups: r.approval.break_glass_groups ?? [],
    });
  }
  // The service account the job runs as, when an allow rule used names one; two different ones refuse.
  const accounts = [...new Set(rules.filter((r) => r.effect === 'allow' && r.upstream_service_account && d.matchedRules.includes(r.id)).map((r) => r.upstream_service_account!))];
  if (accounts.length > 1) return deny(undefined, `Access Denied: the allow rules used (${d.matchedRules.join(', ')}) run this statement as different service accounts (${accounts.join(', ')}); split the statement or align the rules.`);
  if (accounts.length) d.upstreamServiceAccount = accounts[0];
  d.reasons.unshift(`Allowed by ${d.matchedRules.join(', ')}`);
  if (d.approvals) d.reasons.push(`Needs approval: ${d.approvals.map((q) => `${q.count} of ${q.approverGroups.join('/')} (rule ${q.ruleId}${q.minBytesProcessed !== undefined ? `, if over ${q.minBytesProcessed} bytes` : ''})`).join('; ')}.`);
  return d;
}

/**
 * Why a model read must be refused although allowed: a row filter rule names the model (for anyone:
 * a principal no filter covers sees no rows), or a column deny or mask of the caller's rules matches
 * one of its feature / label columns (`project.dataset.model.column`, classifications included).
 * A model has no scan the rewrite could project, so nothing of it can be filtered, hidden or masked.
 */
function modelRefusal(policy: Policy, principal: Principal, rules: Rule[], models: string[], columns: Record<string, string[]>, now: number): { ruleId: string; reason: string } | undefined {
  const why = (r: Rule, what: string) => ({ ruleId: r.id, reason: `Access Denied: bqgate rule ${r.id} ${what}; a model has no scan bqgate could ${r.effect === 'filter' ? 'filter' : 'mask or hide'} (a model is decided like a table, without masks, denied columns or row filters), so the statement was not run for ${who(principal)}.` });
  for (const model of models) {
    const filter = policy.rules.find((r) => r.effect === 'filter' && inWindow(r, now) && anyGlob(r.tables, model));
    if (filter) return why(filter, `filters the rows of model ${model}`);
    for (const column of columns[model] ?? []) {
      const col = columnId(policy, model, column);
      const denied = rules.find((r) => r.effect === 'deny' && r.columns?.some((c) => columnMatches(c, col)));
      if (denied) return why(denied, `denies column ${column} of model ${model}`);
      const masked = rules.find((r) => r.effect === 'mask' && r.masks?.some((m) => columnMatches(m.column, col)));
      if (masked) return why(masked, `masks column ${column} of model ${model}`);
    }
  }
  return undefined;
}

/** The smallest caps among the limit rules in `rules`. */
export function limitsFor(rules: Rule[]): Decision['limits'] {
  const min = (xs: Array<number | undefined>) => { const v = xs.filter((x): x is number => x !== undefined); return v.length ? Math.min(...v) : undefined; };
  const ls = rules.filter((r) => r.effect === 'limit').map((r) => r.limits ?? {});
  const out: Decision['limits'] = {};
  const bytes = min(ls.map((l) => l.maximum_bytes_billed));
  const rows = min(ls.map((l) => l.maximum_rows));
  if (bytes !== undefined) out.maximumBytesBilled = bytes;
  if (rows !== undefined) out.maximumRows = rows;
  return out;
}

/** GoogleSQL string literal (sql/canonical.ts, the one encoding the gateway writes). */
const lit = encodeString;

/**
 * A filter with the caller's values in place: SESSION_USER() → email (else subject);
 * {{principal.subject|email|actor|groups|claims.NAME}} → literals (arrays for lists).
 */
export function substitutePrincipal(filter: string, p: Principal): string {
  const value = (v: unknown): string => (Array.isArray(v) ? `[${v.map((x) => lit(String(x))).join(', ')}]` : v === undefined || v === null ? 'NULL' : lit(String(v)));
  return filter
    .replace(/\bSESSION_USER\s*\(\s*\)/gi, lit(p.email ?? p.subject))
    .replace(/\{\{\s*principal\.(subject|email|actor|groups|claims\.([A-Za-z0-9_:-]+))\s*\}\}/g, (_m, what: string, claim?: string) => {
      if (claim) return value(p.claims[claim]);
      return value(what === 'subject' ? p.subject : what === 'email' ? p.email : what === 'actor' ? p.actor : p.groups);
    });
}

/** Whether `principal` may see metadata of `table` (tables.get, tabledata.list): some allow rule covers it. */
export function canSeeTable(policy: Policy, principal: Principal, table: string, now = Date.now()): boolean {
  const rules = rulesFor(policy, principal, now);
  if (rules.some((r) => r.effect === 'deny' && !r.columns && !r.masks && !r.verbs && anyGlob(r.tables, table))) return false;
  return rules.some((r) => r.effect === 'allow' && anyGlob(r.tables, table));
}

/** Whether some table of `project.dataset` could be visible to `principal`. */
export function canSeeDataset(policy: Policy, principal: Principal, project: string, dataset: string, now = Date.now()): boolean {
  return allowsUnder(policy, principal, [project, dataset], now);
}

/** Whether some table of `project` could be visible to `principal` (projects.list). */
export function canSeeProject(policy: Policy, principal: Principal, project: string, now = Date.now()): boolean {
  return allowsUnder(policy, principal, [project], now);
}

/** Whether some allow rule's table pattern could cover a table under `prefix` ([project] or [project, dataset]). */
function allowsUnder(policy: Policy, principal: Principal, prefix: string[], now: number): boolean {
  return rulesFor(policy, principal, now).some((r) => r.effect === 'allow' && (!r.tables || r.tables.some((t) => {
    if (t === '*') return true;
    const segs = pathParts(t);
    return prefix.every((v, i) => nameGlob(segs[i] ?? '*', v));
  })));
}

/** One rule's part in a decision, for `policy explain`. */
export interface RuleTrace {
  id: string;
  effect: Rule['effect'];
  /** Whether the rule is for this principal, and if not, why not. */
  applies: boolean;
  why?: string;
  /** What of the statement the rule covers (tables, columns, masked columns). */
  covers: string[];
}

/** The decision plus, for every rule, whether it applied and what it covered. */
export function explain(policy: Policy, principal: Principal, a: Parameters<typeof decideStatement>[2], now = Date.now()): { decision: Decision; trace: RuleTrace[] } {
  const decision = decideStatement(policy, principal, a, now);
  const trace = policy.rules.map((r): RuleTrace => {
    const applies = inWindow(r, now) && principalMatches(r.principals, principal);
    const why = !inWindow(r, now) ? 'outside its validity window' : !principalMatches(r.principals, principal) ? 'not for this principal' : undefined;
    const covers: string[] = [];
    const tables = [...a.tablesRead, ...a.tablesWritten];
    if (r.effect === 'filter') { for (const t of a.tablesRead) if (anyGlob(r.tables, t)) covers.push(`rows of ${t} where ${r.filter}`); }
    else if (r.tables || r.verbs) for (const t of tables) if (anyGlob(r.tables, t)) covers.push(`${(r.verbs ?? ['*']).join('/')} ${t}`);
    for (const c of a.columnsRead) if (r.columns?.some((p) => columnMatches(p, columnId(policy, c.table, c.column, a.tables[c.table])))) covers.push(`column ${c.table}.${c.column}`);
    for (const t of a.tablesRead) for (const f of a.tables[t] ?? []) for (const m of r.masks ?? []) if (columnMatches(m.column, columnId(policy, t, f.name, a.tables[t]))) covers.push(`${m.rule} ${t}.${f.name}`);
    for (const u of a.flags?.loadUris ?? []) if (u !== null && r.load_sources?.some((src) => sourceWithin(src, u))) covers.push(`load from ${u} (load_sources)`);
    for (const u of a.flags?.exportUris ?? (a.flags?.exportUri ? [a.flags.exportUri] : [])) if (u !== null && r.export_destinations?.some((dst) => uriGlob(dst, u))) covers.push(`export to ${u} (export_destinations)`);
    return { id: r.id, effect: r.effect, applies, ...(why ? { why } : {}), covers };
  });
  return { decision, trace };
}

/** Whether any rule of the policy (for anyone) masks or denies `table.column`, or it carries a tag: the policy "declares" it. */
export function isDeclared(policy: Policy, table: string, column: string, schema?: BqField[]): boolean {
  const col = columnId(policy, table, column, schema);
  return col.tags.length > 0 || policy.rules.some((r) => r.columns?.some((c) => columnMatches(c, col)) || r.masks?.some((m) => columnMatches(m.column, col)));
}

/**
 * Result column indexes the delivery backstop must scan: those whose lineage reaches no column the
 * policy declares (declared columns are already masked, denied or deliberately clear).
 */
export function backstopColumns(policy: Policy, lineage: Array<{ sources: Array<{ table: string; column: string }> }>, tables: Record<string, BqField[]> = {}): number[] {
  return lineage.flatMap((l, i) => (l.sources.some((s) => isDeclared(policy, s.table, s.column, tables[s.table])) ? [] : [i]));
}

/**
 * Decides a statement, or a script unit by unit (`units`): the first refusal wins; otherwise the
 * units' masks, denied columns, row filters and matched rules together (they depend on the
 * principal and the table only, so they agree wherever units share a table).
 */
export function decideStatement(policy: Policy, principal: Principal, a: Parameters<typeof decide>[2] & { units?: Array<Parameters<typeof decide>[2]> }, now = Date.now()): Decision {
  if (!a.units?.length) return decide(policy, principal, a, now);
  const ds = a.units.map((u) => decide(policy, principal, u, now));
  const denied = ds.find((d) => d.effect === 'deny');
  if (denied) return denied;
  const merged: Decision = { ...ds[0], matchedRules: [], reasons: [], masks: {}, deniedColumns: {}, rowFilters: {}, approvals: undefined };
  for (const d of ds) {
    for (const r of d.matchedRules) if (!merged.matchedRules.includes(r)) merged.matchedRules.push(r);
    for (const [t, m] of Object.entries(d.masks)) merged.masks[t] = { ...merged.masks[t], ...m };
    for (const [t, cols] of Object.entries(d.deniedColumns)) merged.deniedColumns[t] = [...new Set([...(merged.deniedColumns[t] ?? []), ...cols])];
    Object.assign(merged.rowFilters, d.rowFilters);
    for (const q of d.approvals ?? []) if (!merged.approvals?.some((x) => x.ruleId === q.ruleId)) (merged.approvals ??= []).push(q);
  }
  if (!merged.approvals) delete merged.approvals;
  merged.reasons = [`Allowed by ${merged.matchedRules.join(', ')} (${ds.length} script statements)`];
  return merged;
}
