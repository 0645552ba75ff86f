/**
 * Job labels: BigQuery's label rules, and the gateway's own namespace. Keys are 1–63 characters,
 * start with a lowercase letter (or an international character) and hold lowercase letters,
 * digits, `_` and `-`; values are 0–63 such characters; a resource has at most 64 labels. The
 * gateway sets labels named `bqgate_*` on every upstream job (jobs.ts `jobLabels`); a caller's
 * labels of that name are dropped, and a caller may set at most 64 − GATEWAY_LABELS others.
 */
import { BigQueryError } from './errors.js';

/** How many labels the gateway may add (bqgate_principal, bqgate_actor, bqgate_request, bqgate_session). */
export const GATEWAY_LABELS = 5;

const KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;

/** True for a key in the gateway's namespace (`bqgate_`, any case). */
export const isGatewayLabel = (key: string) => key.toLowerCase().startsWith('bqgate_');

/**
 * Checks the labels a caller sent at `name` (`labels`, `configuration.labels`): an object of
 * string values, every key and value per BigQuery's rules, at most 64 − GATEWAY_LABELS labels
 * outside the `bqgate_` namespace. Throws BigQueryError('invalid') naming the rule broken.
 */
export function validateLabels(name: string, labels: unknown): void {
  const fail = (why: string): never => { throw new BigQueryError('invalid', `Invalid label in ${name}: ${why}`); };
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) fail('labels must be an object of key → string value.');
  const entries = Object.entries(labels as Record<string, unknown>);
  for (const [k, v] of entries) {
    const key = JSON.stringify(k.length > 70 ? `${k.slice(0, 70)}…` : k);
    if (!KEY.test(k)) fail(`the label key ${key} must be 1 to 63 characters, start with a lowercase letter and hold only lowercase letters, digits, underscores and dashes.`);
    if (typeof v !== 'string') fail(`the label ${key} must have a string value.`);
    if (!VALUE.test(v as string)) fail(`the value of label ${key} must be at most 63 characters of lowercase letters, digits, underscores and dashes.`);
  }
  const own = entries.filter(([k]) => !isGatewayLabel(k)).length;
  if (own > 64 - GATEWAY_LABELS) fail(`at most ${64 - GATEWAY_LABELS} labels per job (BigQuery allows 64; bqgate adds up to ${GATEWAY_LABELS} of its own); ${own} were given.`);
}

/** The caller's labels without the gateway's namespace (validated already). */
export function callerLabels(labels: unknown): Record<string, string> {
  if (typeof labels !== 'object' || labels === null) return {};
  return Object.fromEntries(Object.entries(labels as Record<string, string>).filter(([k]) => !isGatewayLabel(k)));
}
