/**
 * Read stream names bqgate hands out, bound to the caller that created the session.
 *
 * A caller's stream name is `projects/P/locations/L/sessions/S/streams/<sealed>`, where `<sealed>`
 * is AES-256-GCM (key derived from the gateway's HMAC key, so every replica opens it) over the
 * upstream stream's name, the owner (issuer, subject), the upstream identity the session runs with,
 * the audit session key and an expiry (ms since the epoch). The upstream name is never shown, a
 * name cannot be forged or altered (GCM's tag), and ReadRows / SplitReadStream open it on every
 * call and refuse it for anyone but its owner — a stream name is a capability only for its creator.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/** What a caller's stream name carries. */
export interface StreamGrant {
  /** The upstream stream's full name (projects/…/streams/…). */
  upstream: string;
  issuer: string;
  subject: string;
  /** The upstream credential's identity (upstream/credentials.ts UpstreamIdentity). */
  identity: string;
  /** The audit session the reads join. */
  sessionKey?: string;
  /** The gateway's request id of the CreateReadSession that made it. */
  createdBy: string;
  /** Expiry, ms since the epoch (the upstream session's expire_time). */
  expires: number;
  /** The session's data format, and the table read (for the audit). */
  format: string;
  table: string;
  /** The content backstop's plan (scan.ts), when the policy leaves result columns to it. */
  scan?: import('./scan.js').ScanPlan;
}

/** The name-sealing key: HMAC-SHA256(hmacKey, 'bqgate storage read stream names'). */
export const namesKey = (hmacKey: Buffer): Buffer => createHmac('sha256', hmacKey).update('bqgate storage read stream names').digest();

/** The caller's name of the stream `g.upstream` (same session path, sealed stream id). */
export function sealStream(key: Buffer, g: StreamGrant): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(JSON.stringify(g), 'utf8'), c.final()]);
  const sealed = Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64url');
  const at = g.upstream.indexOf('/streams/');
  return `${at > 0 ? g.upstream.slice(0, at) : 'projects/-/locations/-/sessions/-'}/streams/${sealed}`;
}

/**
 * The audit session a stream's reads join (the session its read session was created in), for the
 * door to name before the pipeline runs; ownership is still checked by the operation.
 */
export const streamSession = (key: Buffer, name: unknown): string | undefined => (typeof name === 'string' ? openStream(key, name)?.sessionKey : undefined);

/** The grant a caller's stream name carries, or undefined when it is not one bqgate sealed. */
export function openStream(key: Buffer, name: string): StreamGrant | undefined {
  const m = /\/streams\/([A-Za-z0-9_-]{40,30000})$/.exec(name);
  if (!m) return undefined;
  const raw = Buffer.from(m[1], 'base64url');
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(raw.length - 16));
    const g = JSON.parse(Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString('utf8')) as StreamGrant;
    return typeof g.upstream === 'string' && typeof g.subject === 'string' ? g : undefined;
  } catch {
    return undefined;
  }
}
