/**
 * `audit/`: what the gateway records.
 * - The audit log (log.ts): append-only events per request (events.ts), durable before the
 *   response leaves, in an RFC 6962 Merkle tree with signed Ed25519 checkpoints (merkle.ts,
 *   signer.ts); SQLite or PostgreSQL (backend.ts); export and offline verification (verify.ts);
 *   sessions and timelines (sessions.ts).
 * Jobs and approvals (operational state) are in state/.
 */
export { AuditLog, auditDown, type AuditLogOptions } from './log.js';
export type { AuditEvent, AuditEventInput, AuditEventType, Checkpoint, EventQuery } from './events.js';
export { exportLog, verifyExport, verifyEvents, type ExportLine, type VerifyReport, type EventsVerification } from './verify.js';
export { requestsOf, recordedPrincipal, sessionsOf, renderTimeline, type RequestRecord, type Session } from './sessions.js';
export { RequestRecorder, type RequestSummary, type ResponseRecord } from './request.js';
export { SinkRunner, sinkTarget, jsonlTarget, webhookTarget, syslogTarget, syslogMessage, type SinkTarget } from './sinks.js';
