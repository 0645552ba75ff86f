/**
 * Validation of the request parameters the REST reference types, for query strings and bodies,
 * before any operation runs: `validateRequest` checks what the route table (index.ts ROUTES)
 * declares for the method. A value of the wrong type or out of range is refused with
 * BigQueryError('invalid') and a message naming the parameter (e.g. a negative `startIndex`,
 * which would otherwise move a row cap's window, or a `maxResults` beyond uint32).
 *
 * Types (REST reference): `uint32` 0…4294967295; `uint64` and `int64` whole numbers, as JSON
 * numbers or decimal strings — bqgate accepts up to 2^53−1 in magnitude (what it can compute
 * with exactly) and no negative value for counts, sizes and durations (`uint64`); `int32`;
 * `bool` (JSON boolean, or "true"/"false" in a query string); `string`; `labels` (BigQuery's
 * label rules, labels.ts; `patchLabels` in a PATCH body, where a null value removes the label); `requestId` (≤ 36 ASCII characters); `jobId` (letters, digits, `_`, `-`,
 * at most 1,000 characters: the gateway's per-principal prefix takes the rest of BigQuery's 1,024).
 */
import { BigQueryError } from './errors.js';
import { validateLabels } from './labels.js';

export type ParamType = 'uint32' | 'uint64' | 'int64' | 'int32' | 'bool' | 'string' | 'labels' | 'patchLabels' | 'requestId' | 'jobId';

/** Declared parameters of one method: query-string names, and dotted paths into the JSON body. */
export interface ParamSpec { query?: Record<string, ParamType>; body?: Record<string, ParamType> }

const UINT32_MAX = 4294967295;
const INT32 = 2147483647;

/** Throws invalid for `name`, saying what it must be and what was given (shortened). */
const bad = (name: string, must: string, v: unknown): never => {
  const shown = JSON.stringify(v) ?? String(v);
  throw new BigQueryError('invalid', `Invalid value for ${name}: ${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}; it must be ${must}.`);
};

/** The whole number `v` (JSON number or decimal string), or undefined when it is not one. */
function whole(v: unknown, signed: boolean): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && (signed || v >= 0) ? v : undefined;
  if (typeof v !== 'string' || !(signed ? /^-?\d{1,16}$/ : /^\d{1,16}$/).test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Checks one value of declared type `t` (`name` for the message). */
export function checkParam(name: string, t: ParamType, v: unknown): void {
  switch (t) {
    case 'uint32': { const n = whole(v, false); if (n === undefined || n > UINT32_MAX) bad(name, `a whole number from 0 to ${UINT32_MAX} (uint32)`, v); return; }
    case 'uint64': if (whole(v, false) === undefined) bad(name, 'a whole number from 0 to 9007199254740991 (uint64; bqgate accepts up to 2^53-1)', v); return;
    case 'int64': if (whole(v, true) === undefined) bad(name, 'a whole number of magnitude at most 9007199254740991 (int64; bqgate accepts up to 2^53-1)', v); return;
    case 'int32': { const n = whole(v, true); if (n === undefined || Math.abs(n) > INT32) bad(name, 'a whole number in the int32 range', v); return; }
    case 'bool': if (typeof v !== 'boolean' && v !== 'true' && v !== 'false') bad(name, 'true or false', v); return;
    case 'string': if (typeof v !== 'string') bad(name, 'a string', v); return;
    case 'labels': validateLabels(name, v); return;
    case 'patchLabels': validateLabels(name, v, { nullRemoves: true }); return;
    case 'requestId': if (typeof v !== 'string' || !/^[\x20-\x7e]{1,36}$/.test(v)) bad(name, 'a string of 1 to 36 printable ASCII characters (a UUID is recommended)', v); return;
    case 'jobId': if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,1000}$/.test(v)) bad(name, 'letters, digits, underscores and dashes only, 1 to 1,000 characters', v); return;
  }
}

/** The value at dotted `path` in `o` (undefined when any step is missing). */
const at = (o: unknown, path: string) => path.split('.').reduce<any>((x, k) => (x && typeof x === 'object' ? x[k] : undefined), o);

/**
 * Checks a request against its method's declared parameters: every declared query-string
 * parameter given at most once and of its type, every declared body field (when present, null
 * counts as absent) of its type. Throws BigQueryError('invalid') naming the first bad parameter.
 */
export function validateParams(spec: ParamSpec | undefined, query: Record<string, unknown>, body: unknown): void {
  for (const [name, t] of Object.entries(spec?.query ?? {})) {
    const v = query[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) bad(name, 'given once', v);
    checkParam(name, t, v);
  }
  for (const [path, t] of Object.entries(spec?.body ?? {})) {
    const v = at(body, path);
    if (v !== undefined && v !== null) checkParam(path, t, v);
  }
}
