/**
 * Leaf bytes assembled from pre-canonicalized data (events.ts leafBytesWith, used by the PostgreSQL
 * log to canonicalize outside its writer lock) are byte for byte the RFC 8785 canonical JSON of the
 * whole event (leafBytes, what the verifier recomputes), over events of every shape.
 */
import { describe, expect, it } from 'vitest';
import { canonicalData, leafBytes, leafBytesWith } from '../src/audit/events.js';

const shapes: Array<Record<string, unknown>> = [
  {},
  { sql: 'SELECT "x" FROM `p.d.t` -- \u2028 é 😀', parameters: [{ name: 'a', value: 1.5e300 }, { name: 'b', value: -0 }] },
  { '10': 1, '2': 2, b: null, a: [undefined, true, { z: 1, Z: 2, 'é': 3, e: 4 }], undef: undefined },
  { sample: Array.from({ length: 20 }, (_, i) => ({ f: [{ v: String(i) }, { v: null }, { v: `c${i}@example.com` }] })), sampleTruncated: true, rows: 20 },
  { nested: { deeper: { deepest: ['\u0000', '\u001f', '"\\'] } }, n: 123456789012, f: 0.1 + 0.2 },
];
const bases = [
  { id: 'id-1', seq: 0, ts: 1_700_000_000_000, type: 'request' as const, requestId: 'r1', principal: 'alice', issuer: 'http://127.0.0.1:1' },
  { id: 'id-2', seq: 41, ts: 1, type: 'decision' as const, requestId: 'r2', principal: 'bob "b"', issuer: '', actor: 'agent-7', sessionKey: 's-é' },
];

describe('leafBytesWith', () => {
  it('equals leafBytes for every event shape', () => {
    let n = 0;
    for (const b of bases) for (const data of shapes) {
      const e = { ...b, data };
      expect(leafBytesWith(e, canonicalData(data))).toBe(leafBytes(e));
      n++;
    }
    console.log(`${n} events compared`);
  });
  it('differs when the data differs (the data bytes are really inside)', () => {
    const e = { ...bases[0], data: { a: 1 } };
    expect(leafBytesWith(e, canonicalData({ a: 2 }))).not.toBe(leafBytes(e));
  });
});
