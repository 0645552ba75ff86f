/**
 * Export and offline verification of the audit log.
 *
 * Export (JSON Lines): a `header` line (log origin, Ed25519 public key PEM and key id), then every
 * entry in seq order — `event` lines (the event, with its RFC 6962 inclusion proof against the
 * latest checkpoint) and `pruned` lines (seq, ts, leaf hash of an event whose body retention
 * removed) — then the `checkpoint` lines, each with a consistency proof from the one before.
 *
 * `verifyExport` needs nothing but the export. It checks, in order, and reports the first failure:
 * the header; each entry's seq follows the previous (a gap is a missing event, a step back a
 * reordered or duplicated one); each event's content hashes to its leaf; every checkpoint's
 * Ed25519 signature; each checkpoint is consistent with the one before (append-only); each event
 * is included in the latest checkpoint; the entries rebuild every checkpoint's root.
 */
import { leafBytes, LOG_ORIGIN, type AuditEvent, type Checkpoint } from './events.js';
import { CompactRange, MerkleTree, leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { verifyCheckpoint } from './signer.js';
import type { AuditLog } from './log.js';

export type ExportLine =
  | { kind: 'header'; origin: string; publicKey: string; keyId: string; exportedAt: number }
  | ({ kind: 'event'; proof: string[]; proofSize: number } & AuditEvent)
  | { kind: 'pruned'; seq: number; ts: number; leaf: string }
  | ({ kind: 'checkpoint'; consistency: string[]; fromSize: number } & Checkpoint);

/** Writes the whole log as export lines (one JSON object each), checkpointing first. */
export async function* exportLog(log: AuditLog): AsyncGenerator<ExportLine> {
  await log.checkpoint();
  const checkpoints = await log.checkpoints();
  const latest = checkpoints.at(-1);
  const size = await log.size();
  yield { kind: 'header', origin: LOG_ORIGIN, publicKey: log.signer.publicKeyPem, keyId: log.signer.keyId, exportedAt: Date.now() };
  const entries = await log.backend.entries(0, size);
  const leaves = entries.map((e) => Buffer.from(e.leaf, 'hex'));
  const tree = new MerkleTree(leaves);
  const covered = Math.min(latest?.treeSize ?? 0, leaves.length);
  // Proofs come from the stored leaves by position; a store that lost or gained rows yields proofs
  // that fail, which is what the verifier should see.
  for (const [i, e] of entries.entries()) {
    if ('pruned' in e) { yield { kind: 'pruned', seq: e.seq, ts: e.ts, leaf: e.leaf }; continue; }
    const inTree = latest !== undefined && i < covered;
    yield { kind: 'event', ...e, proofSize: inTree ? latest.treeSize : 0, proof: inTree ? tree.inclusionProof(i, 0, covered).map((b) => b.toString('base64')) : [] };
  }
  let prev = 0;
  for (const cp of checkpoints) {
    yield { kind: 'checkpoint', ...cp, fromSize: prev, consistency: prev > 0 && cp.treeSize <= leaves.length ? tree.consistencyProof(prev, cp.treeSize).map((b) => b.toString('base64')) : [] };
    prev = cp.treeSize;
  }
}

export interface VerifyReport {
  ok: boolean;
  events: number;
  pruned: number;
  checkpoints: number;
  /** Size of the latest signed checkpoint; entries beyond it are not yet covered by a signature. */
  treeSize: number;
  /** The first problem found, with the seq it concerns when there is one. */
  failure?: { kind: 'header' | 'missing' | 'reordered' | 'altered' | 'signature' | 'consistency' | 'inclusion' | 'root'; seq?: number; message: string };
}

export function verifyExport(lines: ExportLine[]): VerifyReport {
  const report: VerifyReport = { ok: false, events: 0, pruned: 0, checkpoints: 0, treeSize: 0 };
  const fail = (kind: NonNullable<VerifyReport['failure']>['kind'], message: string, seq?: number) => ({ ...report, failure: { kind, message, ...(seq !== undefined ? { seq } : {}) } });
  const header = lines[0];
  if (header?.kind !== 'header' || header.origin !== LOG_ORIGIN) return fail('header', `not a bqgate audit export (expected a header line for "${LOG_ORIGIN}")`);
  const entries = lines.filter((l): l is Extract<ExportLine, { kind: 'event' | 'pruned' }> => l.kind === 'event' || l.kind === 'pruned');
  const checkpoints = lines.filter((l): l is Extract<ExportLine, { kind: 'checkpoint' }> => l.kind === 'checkpoint');
  const leaves: Buffer[] = [];
  const present = new Set(entries.map((e) => e.seq));
  for (const [i, e] of entries.entries()) {
    if (e.seq > i && present.has(i)) return fail('reordered', `event seq ${i} is out of place (entry ${i} is seq ${e.seq}): events were reordered`, i);
    if (e.seq > i) return fail('missing', `event seq ${i} is missing (the next entry is seq ${e.seq})`, i);
    if (e.seq < i) return fail('reordered', `entry ${i} has seq ${e.seq}: events are reordered or duplicated`, e.seq);
    if (e.kind === 'event') {
      const { kind: _k, proof: _p, proofSize: _s, ...event } = e;
      const leaf = leafHash(leafBytes(event));
      if (leaf.toString('hex') !== e.leaf) return fail('altered', `event seq ${e.seq} (id ${e.id}) was altered: its content does not hash to its leaf`, e.seq);
      report.events++;
    } else report.pruned++;
    leaves.push(Buffer.from(e.leaf, 'hex'));
  }
  let prev: Checkpoint | undefined;
  for (const cp of checkpoints) {
    if (!verifyCheckpoint(cp, header.publicKey)) return fail('signature', `checkpoint at tree size ${cp.treeSize} has a bad signature`);
    if (prev && !verifyConsistency(prev.treeSize, cp.treeSize, cp.consistency.map((b) => Buffer.from(b, 'base64')), Buffer.from(prev.root, 'base64'), Buffer.from(cp.root, 'base64'))) {
      return fail('consistency', `checkpoint at tree size ${cp.treeSize} is not consistent with the one at ${prev.treeSize}: the log was rewritten between them`);
    }
    if (cp.treeSize > leaves.length) return fail('missing', `checkpoint at tree size ${cp.treeSize} covers events the export lacks (it has ${leaves.length})`, leaves.length);
    prev = cp;
    report.checkpoints++;
  }
  const latest = checkpoints.at(-1);
  report.treeSize = latest?.treeSize ?? 0;
  if (latest) {
    const root = Buffer.from(latest.root, 'base64');
    for (const e of entries) {
      if (e.kind !== 'event' || e.seq >= latest.treeSize) continue;
      if (!verifyInclusion(Buffer.from(e.leaf, 'hex'), e.seq, latest.treeSize, e.proof.map((b) => Buffer.from(b, 'base64')), root)) {
        return fail('inclusion', `event seq ${e.seq} (id ${e.id}) is not included in the signed checkpoint at tree size ${latest.treeSize}: it was altered, inserted or moved`, e.seq);
      }
    }
    const range = new CompactRange();
    let next = 0;
    for (const cp of checkpoints) {
      while (range.size < cp.treeSize) range.append(leaves[next++]);
      if (!range.root().equals(Buffer.from(cp.root, 'base64'))) return fail('root', `the entries do not rebuild the signed root at tree size ${cp.treeSize}`);
    }
  }
  return { ...report, ok: true };
}

/** What `verifyEvents` found for a set of events against the latest signed checkpoint. */
export interface EventsVerification {
  /** The checkpoint checked against (absent before the first one is signed). */
  checkpoint?: { treeSize: number; ts: number; keyId: string; signatureValid: boolean };
  /** Events included in that checkpoint whose content hashes to their leaf. */
  verified: number;
  /** Events newer than the checkpoint (covered by the next one, within the checkpoint interval). */
  pending: number;
  /** Events whose bodies retention removed (their leaves still count). */
  pruned: number;
  /** The first event that fails, if any: altered content, or not included in the signed tree. */
  failure?: { seq: number; kind: 'altered' | 'inclusion' | 'missing' | 'signature'; message: string };
}

/**
 * Checks the events `seqs` (one session's, say) in the live log as `verifyExport` would offline:
 * the latest checkpoint's Ed25519 signature, each event's content against its leaf, and its RFC
 * 6962 inclusion in that checkpoint's tree. It reads every leaf up to the checkpoint (O(n) in the
 * log's size, no event bodies beyond `seqs`).
 */
export async function verifyEvents(log: AuditLog, seqs: number[]): Promise<EventsVerification> {
  const out: EventsVerification = { verified: 0, pending: 0, pruned: 0 };
  const latest = (await log.checkpoints()).at(-1);
  const wanted = [...new Set(seqs)].sort((a, b) => a - b);
  if (!latest) return { ...out, pending: wanted.length };
  const signatureValid = verifyCheckpoint(latest, log.signer.publicKeyPem);
  out.checkpoint = { treeSize: latest.treeSize, ts: latest.ts, keyId: latest.keyId, signatureValid };
  if (!signatureValid) return { ...out, failure: { seq: latest.treeSize, kind: 'signature', message: `the checkpoint at tree size ${latest.treeSize} has a bad signature` } };
  const entries = await log.backend.entries(0, latest.treeSize);
  const tree = new MerkleTree(entries.map((e) => Buffer.from(e.leaf, 'hex')));
  const root = Buffer.from(latest.root, 'base64');
  for (const seq of wanted) {
    if (seq >= latest.treeSize) { out.pending++; continue; }
    const e = entries[seq];
    if (!e || e.seq !== seq) return { ...out, failure: { seq, kind: 'missing', message: `event seq ${seq} is missing from the store` } };
    if ('pruned' in e) { out.pruned++; continue; }
    if (leafHash(leafBytes(e)).toString('hex') !== e.leaf) return { ...out, failure: { seq, kind: 'altered', message: `event seq ${seq} was altered: its content does not hash to its leaf` } };
    if (!verifyInclusion(Buffer.from(e.leaf, 'hex'), seq, latest.treeSize, tree.inclusionProof(seq), root)) {
      return { ...out, failure: { seq, kind: 'inclusion', message: `event seq ${seq} is not included in the signed checkpoint at tree size ${latest.treeSize}` } };
    }
    out.verified++;
  }
  return out;
}
