/**
 * One TVF called more than once in a statement over different inputs (`APPENDS(TABLE a, …) JOIN
 * APPENDS(TABLE b, …)`): a FIXED_OUTPUT_SCHEMA_TVF has one output per catalog, so such a TVF is
 * registered instead as a TEMPLATED_SQL_TVF whose body ZetaSQL resolves per call over that call's
 * input: `SELECT *, CAST(NULL AS T) AS c, … FROM input`. Only for outputs of that shape — every column
 * of the one relation argument first, passed through, then columns whose names and types do not
 * depend on the input (APPENDS / CHANGES: `_CHANGE_TYPE STRING, _CHANGE_TIMESTAMP TIMESTAMP`;
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/time-series-functions#appends) — and
 * calls of one argument shape (same count and kinds, all positional). Each call's output is still
 * computed as documented (index.ts outputOf) and the resolved scan is checked to have exactly it
 * (TvfPlan.check), so the template can only refuse, never widen. Anything else: undefined (the caller refuses).
 */
import { typeSql, typeToField, type TypeProto } from '../types.js';
import type { TvfCall } from './calls.js';
import type { Column } from './index.js';

/** The name the template's body reads its relation argument by. */
const INPUT = 'bqgate_input';

/** The extra (input-independent) columns of a call's output, or undefined when it is not `input columns + extras`. */
function extras(call: TvfCall, rels: Map<number, Column[]>, columns: Column[]): Column[] | undefined {
  const relArgs = call.args.filter((a) => rels.has(a.position));
  if (relArgs.length !== 1 || call.args.some((a) => a.named)) return undefined;
  const input = rels.get(relArgs[0].position)!;
  if (columns.length < input.length || input.some((c, i) => columns[i].name !== c.name || JSON.stringify(columns[i].type) !== JSON.stringify(c.type))) return undefined;
  const rest = columns.slice(input.length);
  // A pass-through name repeated by an extra column would make `SELECT *, … AS c` ambiguous.
  if (rest.some((c) => input.some((i) => i.name.toLowerCase() === c.name.toLowerCase()))) return undefined;
  return rest;
}

/** The argument shape of a call: each argument's form, in order. */
const shape = (call: TvfCall) => call.args.map((a) => (a.form === 'table' || a.form === 'query' ? 'relation' : a.form)).join(',');

/**
 * The TEMPLATED_SQL_TVF proto serving every call in `calls` (each with its relation columns and the
 * output computed for it), or undefined when they do not all fit one template.
 */
export function templatedProto(calls: Array<{ call: TvfCall; rels: Map<number, Column[]>; columns: Column[] }>): any | undefined {
  const [first] = calls;
  if (calls.some((c) => shape(c.call) !== shape(first.call) || c.call.args.some((a) => a.form === 'model'))) return undefined;
  const ex = calls.map((c) => extras(c.call, c.rels, c.columns));
  if (ex.some((e) => !e || JSON.stringify(e) !== JSON.stringify(ex[0]))) return undefined;
  const names = first.call.args.map((a, i) => (first.rels.has(a.position) ? INPUT : `bqgate_arg${i}`));
  const cast = (c: { name: string; type: TypeProto }) => `CAST(NULL AS ${typeSql(typeToField(c.name, c.type))}) AS \`${c.name}\``;
  const body = `SELECT *${ex[0]!.map((c) => `, ${cast(c)}`).join('')} FROM ${INPUT}`;
  return {
    namePath: first.call.spec.name.split('.'),
    type: 'TEMPLATED_SQL_TVF',
    argumentName: names,
    parseResumeLocation: { input: body, bytePosition: 0 },
    signature: {
      argument: first.call.args.map((a, i) => ({
        kind: first.rels.has(a.position) ? 'ARG_TYPE_RELATION' : 'ARG_TYPE_ARBITRARY',
        numOccurrences: 1,
        options: { cardinality: 'REQUIRED', argumentName: names[i] },
      })),
      returnType: { kind: 'ARG_TYPE_RELATION' },
      contextId: 0,
    },
  };
}
