/**
 * jobs.query against a running emulator over real HTTP with its secret (the emulator's own door,
 * no gateway): `{ status, body }` of `POST /bigquery/v2/projects/demo-project/queries`.
 */
import type { RunningEmulator } from '../../src/emulator/index.ts';

export const emulatorQuery = (emu: () => RunningEmulator, secret: string) => async (sql: string) => {
  const r = await fetch(`${emu().url}/bigquery/v2/projects/demo-project/queries`, {
    method: 'POST', headers: { authorization: `Bearer ${secret}` }, body: JSON.stringify({ query: sql, useLegacySql: false }),
  });
  return { status: r.status, body: await r.json() as any };
};

/** Asserts that the emulator refuses `sql` with 400 invalidQuery and a message matching `message`. */
export const emulatorRefuses = (query: ReturnType<typeof emulatorQuery>, expect: (v: unknown, m?: string) => any) => async (sql: string, message: RegExp) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.body.error.errors[0].reason).toBe('invalidQuery');
  expect(r.body.error.message).toMatch(message);
};
