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
