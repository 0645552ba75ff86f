/**
 * Legacy (2025-era) MCP sessions, kept in the state store (state/mcp-sessions.ts) so that a session
 * opened on one replica is served by any replica sharing the store: `Mcp-Session-Id` is ours (a
 * random UUID), bound to the issuer and subject that initialized it. Each request is served by a
 * fresh server instance on the SDK's stateless transport (`sessionIdGenerator: undefined`, the
 * hook the SDK's own `legacyStatelessFallback` uses), after this module checked the session — so
 * no replica needs the memory of another. Caps (total, per principal, idle) are counted in the store.
 * https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#session-management
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Principal } from '../../auth/index.js';
import type { McpSession, McpSessionCaps, McpSessionTable } from '../../state/index.js';

/** A session as the door uses it: the stored record and the audit session key its calls join. */
export interface LegacySession extends McpSession { key: string }

/** What looking up a presented session id found. */
export type Lookup = { ok: true; session: LegacySession } | { ok: false; why: 'unknown' | 'foreign'; session?: McpSession };

/** The audit session key of a legacy MCP session (`mcp-` + 16 hex of SHA-256 of its id): the same on every replica. */
export const sessionKeyOf = (id: string) => `mcp-${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;

export const DEFAULT_SESSION_CAPS: McpSessionCaps = { total: 1024, perPrincipal: 16, idleMs: 30 * 60_000 };

export function legacySessions(table: McpSessionTable, caps: McpSessionCaps = DEFAULT_SESSION_CAPS) {
  const bound = (s: McpSession, p: Principal) => s.issuer === p.issuer && s.subject === p.subject;
  return {
    caps,
    /**
     * Opens a session for `principal` (an initialize): closes the least recently seen ones a cap
     * requires — the caller's own when it is at its cap, so one token cannot push out everyone else's.
     */
    async open(principal: Principal, info: { protocolVersion?: string; client?: string }, now = Date.now()): Promise<LegacySession> {
      const s: McpSession = { id: randomUUID(), issuer: principal.issuer, subject: principal.subject, ...info, createdAt: now, lastSeen: now };
      await table.open(s, caps, now);
      return { ...s, key: sessionKeyOf(s.id) };
    },
    /**
     * The session `id` for `principal`, marked seen: `unknown` when no replica has it open (or it
     * was idle `caps.idleMs`), `foreign` when another principal opened it (not marked seen).
     */
    async find(id: string, principal: Principal, now = Date.now()): Promise<Lookup> {
      const s = await table.get(id);
      if (!s || now - s.lastSeen >= caps.idleMs) {
        if (s) await table.remove(id);
        return { ok: false, why: 'unknown' };
      }
      if (!bound(s, principal)) return { ok: false, why: 'foreign', session: s };
      const seen = await table.touch(id, caps.idleMs, now);
      return seen ? { ok: true, session: { ...seen, key: sessionKeyOf(id) } } : { ok: false, why: 'unknown' };
    },
    /** Ends a session (DELETE /mcp). */
    close: (id: string) => table.remove(id),
  };
}
