/**
 * The Ed25519 key that signs audit checkpoints (RFC 8032, node:crypto). Kept at
 * `<dataDir>/keys/audit-ed25519.pem` (PKCS#8 PEM, mode 0600), or the file named by
 * BQGATE_AUDIT_KEY_FILE so several replicas share one key; created on first use. The public key is
 * published at GET /bqgate/v1/audit/public-key and embedded in every export.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createSecretFile, readSecretFile } from '../secret-file.js';
import { checkpointBody, type Checkpoint } from './events.js';
import { CompactRange } from './merkle.js';

export interface CheckpointSigner {
  keyId: string;
  /** SPKI PEM of the public key. */
  publicKeyPem: string;
  /** Extends `latest`'s tree with `leavesAfter` and signs the result; undefined if nothing new. */
  make(latest: Checkpoint | undefined, leavesAfter: Buffer[], now?: number): Checkpoint | undefined;
}

/** Key id: base64url of the first 16 bytes of SHA-256(SPKI DER). */
export const keyIdOf = (pub: KeyObject) => createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest().subarray(0, 16).toString('base64url');

export function loadSigner(dataDir: string, keyFile = process.env.BQGATE_AUDIT_KEY_FILE): CheckpointSigner {
  const file = keyFile ?? join(dataDir, 'keys', 'audit-ed25519.pem');
  if (!existsSync(file)) createSecretFile(file, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const priv = createPrivateKey(readSecretFile(file, 'the audit signing key'));
  const pub = createPublicKey(priv);
  const keyId = keyIdOf(pub);
  return {
    keyId,
    publicKeyPem: pub.export({ type: 'spki', format: 'pem' }).toString(),
    make(latest, leavesAfter, now = Date.now()) {
      if (leavesAfter.length === 0) return undefined;
      const range = latest ? CompactRange.fromJSON(latest.range) : new CompactRange();
      for (const l of leavesAfter) range.append(l);
      const cp = { treeSize: range.size, root: range.root().toString('base64'), ts: now };
      const signature = sign(null, Buffer.from(checkpointBody(cp)), priv).toString('base64');
      return { ...cp, signature, keyId, range: range.toJSON() };
    },
  };
}

/** True iff `cp` is signed by `publicKeyPem`. */
export function verifyCheckpoint(cp: Checkpoint, publicKeyPem: string): boolean {
  try {
    return verify(null, Buffer.from(checkpointBody(cp)), createPublicKey(publicKeyPem), Buffer.from(cp.signature, 'base64'));
  } catch {
    return false;
  }
}
