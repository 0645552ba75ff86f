/**
 * FarmHash Fingerprint64 (farmhashna::Hash64 of https://github.com/google/farmhash, src/farmhash.cc),
 * the hash BigQuery's FARM_FINGERPRINT computes
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/hash_functions#farm_fingerprint),
 * in 64-bit unsigned arithmetic on BigInt. `fingerprint64(bytes)` gives the signed INT64 BigQuery
 * returns (the unsigned hash reinterpreted), e.g. FARM_FINGERPRINT('1footrue') = -1541654101129638711.
 */
const M = (1n << 64n) - 1n;
const K0 = 0xc3a5c85c97cb3127n;
const K1 = 0xb492b66be98f3f8bn;
const K2 = 0x9ae16a3b2f90404fn;

const u64 = (x: bigint) => x & M;
const mul = (a: bigint, b: bigint) => (a * b) & M;
const add = (...xs: bigint[]) => xs.reduce((a, b) => (a + b) & M, 0n);
const rot = (v: bigint, s: bigint) => (s === 0n ? v : ((v >> s) | (v << (64n - s))) & M);
const shiftMix = (v: bigint) => v ^ (v >> 47n);

function fetch64(b: Uint8Array, i: number): bigint {
  let v = 0n;
  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k]);
  return v;
}
function fetch32(b: Uint8Array, i: number): bigint {
  return BigInt((b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0);
}

function hashLen16(u: bigint, v: bigint, m: bigint): bigint {
  let a = mul(u ^ v, m);
  a ^= a >> 47n;
  let b = mul(v ^ a, m);
  b ^= b >> 47n;
  return mul(b, m);
}

function hashLen0to16(s: Uint8Array): bigint {
  const len = s.length;
  if (len >= 8) {
    const m = add(K2, BigInt(len * 2));
    const a = add(fetch64(s, 0), K2);
    const b = fetch64(s, len - 8);
    const c = add(mul(rot(b, 37n), m), a);
    const d = mul(add(rot(a, 25n), b), m);
    return hashLen16(c, d, m);
  }
  if (len >= 4) {
    const m = add(K2, BigInt(len * 2));
    const a = fetch32(s, 0);
    return hashLen16(add(BigInt(len), a << 3n), fetch32(s, len - 4), m);
  }
  if (len > 0) {
    const y = BigInt((s[0] + (s[len >> 1] << 8)) >>> 0);
    const z = BigInt((len + (s[len - 1] << 2)) >>> 0);
    return mul(shiftMix(mul(y, K2) ^ mul(z, K0)), K2);
  }
  return K2;
}

/** The multiplier and the four words HashLen17to32 and HashLen33to64 start from (the first word times `k`). */
function words(s: Uint8Array, k: bigint): [bigint, bigint, bigint, bigint, bigint] {
  const len = s.length;
  const m = add(K2, BigInt(len * 2));
  return [m, mul(fetch64(s, 0), k), fetch64(s, 8), mul(fetch64(s, len - 8), m), mul(fetch64(s, len - 16), K2)];
}

function hashLen17to32(s: Uint8Array): bigint {
  const [m, a, b, c, d] = words(s, K1);
  return hashLen16(add(rot(add(a, b), 43n), rot(c, 30n), d), add(a, rot(add(b, K2), 18n), c), m);
}

function hashLen33to64(s: Uint8Array): bigint {
  const len = s.length;
  const [m, a, b, c, d] = words(s, K2);
  const y = add(rot(add(a, b), 43n), rot(c, 30n), d);
  const z = hashLen16(y, add(a, rot(add(b, K2), 18n), c), m);
  const e = mul(fetch64(s, 16), m);
  const f = fetch64(s, 24);
  const g = mul(add(y, fetch64(s, len - 32)), m);
  const h = mul(add(z, fetch64(s, len - 24)), m);
  return hashLen16(add(rot(add(e, f), 43n), rot(g, 30n), h), add(e, rot(add(f, a), 18n), g), m);
}

/** WeakHashLen32WithSeeds over the 32 bytes at `i`, seeded by `a`, `b`. */
function weak32(s: Uint8Array, i: number, a: bigint, b: bigint): [bigint, bigint] {
  const w = fetch64(s, i), x = fetch64(s, i + 8), y = fetch64(s, i + 16), z = fetch64(s, i + 24);
  a = add(a, w);
  b = rot(add(b, a, z), 21n);
  const c = a;
  a = add(a, x, y);
  b = add(b, rot(a, 44n));
  return [add(a, z), add(b, c)];
}

/** Fingerprint64 as an unsigned 64-bit value. */
export function fingerprint64Unsigned(s: Uint8Array): bigint {
  const len = s.length;
  if (len <= 16) return hashLen0to16(s);
  if (len <= 32) return hashLen17to32(s);
  if (len <= 64) return hashLen33to64(s);
  const seed = 81n;
  let x = seed;
  let y = add(mul(seed, K1), 113n);
  let z = mul(shiftMix(add(mul(y, K2), 113n)), K2);
  let v: [bigint, bigint] = [0n, 0n];
  let w: [bigint, bigint] = [0n, 0n];
  x = add(mul(x, K2), fetch64(s, 0));
  const end = Math.floor((len - 1) / 64) * 64;
  const last64 = end + ((len - 1) & 63) - 63;
  let p = 0;
  do {
    x = mul(rot(add(x, y, v[0], fetch64(s, p + 8)), 37n), K1);
    y = mul(rot(add(y, v[1], fetch64(s, p + 48)), 42n), K1);
    x ^= w[1];
    y = add(y, v[0], fetch64(s, p + 40));
    z = mul(rot(add(z, w[0]), 33n), K1);
    v = weak32(s, p, mul(v[1], K1), add(x, w[0]));
    w = weak32(s, p + 32, add(z, w[1]), add(y, fetch64(s, p + 16)));
    [z, x] = [x, z];
    p += 64;
  } while (p !== end);
  const m = add(K1, (z & 0xffn) << 1n);
  p = last64;
  w[0] = add(w[0], BigInt((len - 1) & 63));
  v[0] = add(v[0], w[0]);
  w[0] = add(w[0], v[0]);
  x = mul(rot(add(x, y, v[0], fetch64(s, p + 8)), 37n), m);
  y = mul(rot(add(y, v[1], fetch64(s, p + 48)), 42n), m);
  x ^= mul(w[1], 9n);
  y = add(y, mul(v[0], 9n), fetch64(s, p + 40));
  z = mul(rot(add(z, w[0]), 33n), m);
  v = weak32(s, p, mul(v[1], m), add(x, w[0]));
  w = weak32(s, p + 32, add(z, w[1]), add(y, fetch64(s, p + 16)));
  [z, x] = [x, z];
  return hashLen16(add(hashLen16(v[0], w[0], m), mul(shiftMix(y), K0), z), add(hashLen16(v[1], w[1], m), x), m);
}

/** FARM_FINGERPRINT's INT64: Fingerprint64 of the bytes, as a signed 64-bit integer. */
export const fingerprint64 = (s: Uint8Array): bigint => BigInt.asIntN(64, u64(fingerprint64Unsigned(s)));
