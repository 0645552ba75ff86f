/**
 * Audit events: the append-only record of every request, as plain data.
 *
 * One request writes, in order: `request` (who, operation, SQL, parameters, job configuration,
 * client), `decision` (effect, matched rules, reasons, policy version, tables, models read and columns),
 * `upstream` (job id, labels, the SQL sent), `delivery` (per page: columns, row count, bytes, the
 * SHA-256 of the page as delivered, the rows up to the configured cap), `response` (HTTP status,
 * error reason and message, duration and stage timings, ms), and `approval` steps.
 *
 * Each event is a leaf of the RFC 6962 Merkle tree (merkle.ts): the leaf bytes are the RFC 8785
 * canonical JSON of the event without its leaf hash, so a verifier recomputes them from an export.
 */
import canonicalize from 'canonicalize';

export type AuditEventType = 'request' | 'decision' | 'upstream' | 'delivery' | 'response' | 'approval';

/** What a stage hands to the log. */
export interface AuditEventInput {
  type: AuditEventType;
  /** The gateway's id of the HTTP request (all events of one request share it). */
  requestId: string;
  /** Principal: the token's `sub`, its issuer, and the agent acting for it (RFC 8693 `act.sub`). */
  principal: string;
  issuer: string;
  actor?: string;
  /** An explicit session key from the client (x-bqgate-session header or bqgate_session job label). */
  sessionKey?: string;
  /** Event body; JSON values only. */
  data: Record<string, unknown>;
}

/** An event as stored: numbered (0-based `seq` = leaf index), timed (ms since epoch) and hashed. */
export interface AuditEvent extends AuditEventInput {
  /** Globally unique id (UUID), for de-duplication by SIEMs. */
  id: string;
  seq: number;
  ts: number;
  /** Hex SHA-256 leaf hash of `leafBytes(event)`. */
  leaf: string;
}

/** RFC 8785 canonical JSON of the event's content (everything but `leaf`). */
export function leafBytes(e: Omit<AuditEvent, 'leaf'>): string {
  const { id, seq, ts, type, requestId, principal, issuer, actor, sessionKey, data } = e;
  return canonicalize({ id, seq, ts, type, requestId, principal, issuer, actor: actor ?? null, sessionKey: sessionKey ?? null, data })!;
}

/**
 * `leafBytes(e)` with the event's data already in canonical JSON (`dataJson` = canonicalize(e.data)),
 * so the costly part can be done before the event has its seq (outside the PostgreSQL writer lock).
 * The same bytes: RFC 8785 §3.2.3 sorts the members by UTF-16 code units, which for these names is
 * the order written here (test/audit-leaf.test.ts checks it against `leafBytes`).
 */
export function leafBytesWith(e: Omit<AuditEvent, 'leaf' | 'data'>, dataJson: string): string {
  const c = (v: unknown) => canonicalize(v)!;
  return `{"actor":${c(e.actor ?? null)},"data":${dataJson},"id":${c(e.id)},"issuer":${c(e.issuer)},"principal":${c(e.principal)},"requestId":${c(e.requestId)},`
    + `"seq":${c(e.seq)},"sessionKey":${c(e.sessionKey ?? null)},"ts":${c(e.ts)},"type":${c(e.type)}}`;
}

/** RFC 8785 canonical JSON of an event's data (leafBytesWith's second argument). */
export const canonicalData = (data: Record<string, unknown>): string => canonicalize(data)!;

/** Index fields derived from an event, for queries by table, column and decision. */
export function indexFields(e: AuditEventInput): { decision?: string; tables?: string; columns?: string } {
  if (e.type !== 'decision') return {};
  const d = e.data as { effect?: string; tables?: string[]; columns?: string[] };
  return {
    decision: d.effect,
    tables: d.tables?.length ? ` ${d.tables.join(' ')} ` : undefined,
    columns: d.columns?.length ? ` ${d.columns.join(' ')} ` : undefined,
  };
}

/** A signed checkpoint: the tree's size and root at a time, signed with the gateway's Ed25519 key. */
export interface Checkpoint {
  treeSize: number;
  /** Base64 MTH of the first `treeSize` leaves. */
  root: string;
  ts: number;
  /** Base64 Ed25519 signature over `checkpointBody(...)`. */
  signature: string;
  /** Key id: base64url SHA-256 of the public key (SPKI DER), first 16 bytes. */
  keyId: string;
  /** The tree's right edge (merkle.ts CompactRange JSON), so the next checkpoint extends it. */
  range: { size: number; nodes: string[] };
}

export const LOG_ORIGIN = 'bqgate audit log v1';

/** The signed text of a checkpoint (in the manner of a transparency-log checkpoint note). */
export function checkpointBody(c: Pick<Checkpoint, 'treeSize' | 'root' | 'ts'>): string {
  return `${LOG_ORIGIN}\n${c.treeSize}\n${c.root}\n${c.ts}\n`;
}

/** Event queries (all optional; times in ms since epoch). */
export interface EventQuery {
  principal?: string;
  actor?: string;
  /** Events of requests that touched this table (`project.dataset.table`) / column (`…table.column`). */
  table?: string;
  column?: string;
  decision?: 'allow' | 'deny';
  requestId?: string;
  since?: number;
  until?: number;
  /** Only events with seq ≥ this (export, paging). */
  fromSeq?: number;
  limit?: number;
}
