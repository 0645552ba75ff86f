/**
 * RFC 6962 Merkle tree hashing (Certificate Transparency, §2.1), over SHA-256:
 * - leaf hash  = SHA-256(0x00 ‖ leaf bytes), interior node = SHA-256(0x01 ‖ left ‖ right);
 * - MTH of n leaves splits at k, the largest power of two < n;
 * - inclusion (audit) paths, §2.1.1, and consistency proofs, §2.1.2, with the verification
 *   algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 (the same trees; RFC 9162 spells the checks out).
 * Hashes are 32-byte Buffers. Sizes and indexes are leaf counts (0-based index).
 */
import { createHash } from 'node:crypto';

const sha256 = (...parts: Buffer[]) => { const h = createHash('sha256'); for (const p of parts) h.update(p); return h.digest(); };
const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

/** SHA-256(0x00 ‖ data). */
export const leafHash = (data: Buffer | string) => sha256(LEAF, Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'));
/** SHA-256(0x01 ‖ left ‖ right). */
export const nodeHash = (left: Buffer, right: Buffer) => sha256(NODE, left, right);
/** MTH({}) = SHA-256 of the empty string. */
export const EMPTY_ROOT = sha256();

const split = (n: number) => { let k = 1; while (k * 2 < n) k *= 2; return k; };

/**
 * A tree over a fixed list of leaf hashes, memoizing subtree hashes, so that proofs for every leaf
 * cost O(n log n) in all rather than O(n) each.
 */
export class MerkleTree {
  private memo = new Map<number, Buffer>();
  constructor(readonly leaves: Buffer[]) {}

  /** MTH(D[start:end]). */
  hash(start = 0, end = this.leaves.length): Buffer {
    const n = end - start;
    if (n === 0) return EMPTY_ROOT;
    if (n === 1) return this.leaves[start];
    const key = start * 4294967296 + end;
    let h = this.memo.get(key);
    if (!h) { const k = split(n); h = nodeHash(this.hash(start, start + k), this.hash(start + k, end)); this.memo.set(key, h); }
    return h;
  }

  /** PATH(m, D[start:end]), RFC 6962 §2.1.1. */
  inclusionProof(m: number, start = 0, end = this.leaves.length): Buffer[] {
    if (m < 0 || m >= end - start) throw new RangeError(`leaf ${m} is outside a tree of ${end - start}`);
    if (end - start === 1) return [];
    const k = split(end - start);
    return m < k ? [...this.inclusionProof(m, start, start + k), this.hash(start + k, end)]
      : [...this.inclusionProof(m - k, start + k, end), this.hash(start, start + k)];
  }

  /** PROOF(m, D[0:n]), RFC 6962 §2.1.2, for the tree of the first `n` leaves. */
  consistencyProof(m: number, n = this.leaves.length): Buffer[] {
    if (m < 1 || m > n) throw new RangeError(`no consistency proof from ${m} to ${n}`);
    const sub = (m: number, start: number, end: number, b: boolean): Buffer[] => {
      if (m === end - start) return b ? [] : [this.hash(start, end)];
      const k = split(end - start);
      return m <= k ? [...sub(m, start, start + k, b), this.hash(start + k, end)] : [...sub(m - k, start + k, end, false), this.hash(start, start + k)];
    };
    return sub(m, 0, n, true);
  }
}

/** MTH(D[0:n]) over leaf hashes. */
export const rootOf = (leaves: Buffer[]) => new MerkleTree(leaves).hash();
/** PATH(m, D[0:n]): the inclusion proof of leaf `m` in the tree of `leaves`. */
export const inclusionProof = (m: number, leaves: Buffer[]) => new MerkleTree(leaves).inclusionProof(m);
/** PROOF(m, D[0:n]): the consistency proof between the trees of the first `m` and all `leaves`. */
export const consistencyProof = (m: number, leaves: Buffer[]) => new MerkleTree(leaves).consistencyProof(m);

/** RFC 9162 §2.1.3.2: true iff `proof` shows `leaf` at `index` in a tree of `size` with `root`. */
export function verifyInclusion(leaf: Buffer, index: number, size: number, proof: Buffer[], root: Buffer): boolean {
  if (index >= size) return false;
  let fn = index; let sn = size - 1; let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else r = nodeHash(r, p);
    fn >>= 1; sn >>= 1;
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2: true iff `proof` shows the tree (size1, root1) is a prefix of (size2, root2). */
export function verifyConsistency(size1: number, size2: number, proof: Buffer[], root1: Buffer, root2: Buffer): boolean {
  if (size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = [...proof];
  if ((size1 & (size1 - 1)) === 0) path.unshift(root1); // size1 a power of two
  let fn = size1 - 1; let sn = size2 - 1;
  while (fn % 2 === 1) { fn >>= 1; sn >>= 1; }
  let fr = path[0]; let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr); sr = nodeHash(c, sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else sr = nodeHash(sr, c);
    fn >>= 1; sn >>= 1;
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}

/**
 * The right edge of a tree (its perfect subtrees' roots, largest first), enough to append leaves
 * and compute the root without the earlier leaves; stored with each checkpoint so the next one
 * extends it (whichever replica makes it).
 */
export class CompactRange {
  constructor(public size = 0, public nodes: Buffer[] = []) {}

  append(leaf: Buffer): void {
    let h = leaf;
    let s = this.size;
    while (s % 2 === 1) { h = nodeHash(this.nodes.pop()!, h); s >>= 1; }
    this.nodes.push(h);
    this.size++;
  }

  /** MTH of everything appended. */
  root(): Buffer {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let r = this.nodes[this.nodes.length - 1];
    for (let i = this.nodes.length - 2; i >= 0; i--) r = nodeHash(this.nodes[i], r);
    return r;
  }

  toJSON() { return { size: this.size, nodes: this.nodes.map((n) => n.toString('base64')) }; }
  static fromJSON(j: { size: number; nodes: string[] }) { return new CompactRange(j.size, j.nodes.map((n) => Buffer.from(n, 'base64'))); }
}
