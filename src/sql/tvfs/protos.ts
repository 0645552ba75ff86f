/**
 * The catalog protos sql/tvfs (index.ts) registers: a TableValuedFunctionProto per bound TVF call
 * (FIXED_OUTPUT_SCHEMA_TVF, its output computed for the statement) and a FunctionProto per scalar /
 * aggregate function of the data file, with AI.GENERATE's output_schema return type per statement.
 */
import { BigQueryError } from '../../bigquery/errors.js';
import type { TypeProto } from '../types.js';
import { constant, nodesUnder, pathOf, type CallArg, type TvfCall } from './calls.js';
import { parseColumns, type ArgSpec, type FunctionSpec } from './spec.js';
import type { Column } from './index.js';

const argProto = (kind: string, a: ArgSpec | undefined, optional: boolean) => ({
  kind,
  ...(optional ? {} : { numOccurrences: 1 }),
  options: {
    cardinality: optional ? 'OPTIONAL' : 'REQUIRED',
    ...(a && a.kind === 'scalar' ? { argumentName: a.name, namedArgumentKind: 'POSITIONAL_OR_NAMED' } : {}),
  },
});

/** The TableValuedFunctionProto for one bound call: its arguments as written, its output `columns`. */
export function tvfProto(call: TvfCall, _rels: Map<number, Column[]>, columns: Column[]): any {
  const positional = call.args.filter((a) => !a.named);
  const named = call.args.filter((a) => a.named);
  const kind = (a: CallArg) => (a.form === 'model' ? 'ARG_TYPE_MODEL' : a.form === 'table' || a.form === 'query' ? 'ARG_TYPE_RELATION' : 'ARG_TYPE_ARBITRARY');
  return {
    namePath: call.spec.name.split('.'),
    type: 'FIXED_OUTPUT_SCHEMA_TVF',
    signature: {
      argument: [
        ...positional.map((a) => ({ ...argProto(kind(a), a.spec, false), options: { cardinality: 'REQUIRED' } })),
        ...named.map((a) => argProto('ARG_TYPE_ARBITRARY', a.spec, true)),
      ],
      returnType: { kind: 'ARG_TYPE_RELATION', options: { relationInputSchema: { column: columns } } },
      contextId: 0,
    },
  };
}

/**
 * The FunctionProto of a scalar / aggregate function spec (every argument ARBITRARY, the documented
 * return type). With `schema` (the return type a call's output_schema gives, see schemaOf), a second
 * signature takes that argument as a required named one and returns it; the first then lacks it, so
 * a call resolves to the one its arguments fit.
 */
export function functionProto(f: FunctionSpec, schema?: TypeProto): any {
  const ret = (type: TypeProto) => ({ kind: 'ARG_TYPE_FIXED', type, numOccurrences: 1, options: { cardinality: 'REQUIRED' } });
  const plain = f.schema ? f.args.filter((a) => a.name !== f.schema!.arg) : f.args;
  return {
    namePath: f.name.split('.'),
    group: 'bigquery',
    mode: f.aggregate ? 'AGGREGATE' : 'SCALAR',
    signature: [
      { argument: plain.map((a) => argProto('ARG_TYPE_ARBITRARY', a, a.optional)), returnType: ret(f.returns), contextId: 0 },
      ...(schema ? [{
        // Required arguments first (a required one after an optional kills remote_server): the schema argument second.
        argument: [...plain.filter((a) => !a.optional).map((a) => argProto('ARG_TYPE_ARBITRARY', a, false)), { ...argProto('ARG_TYPE_ARBITRARY', { name: f.schema!.arg, kind: 'scalar', optional: false }, false), options: { cardinality: 'REQUIRED', argumentName: f.schema!.arg, namedArgumentKind: 'NAMED_ONLY' } }, ...plain.filter((a) => a.optional).map((a) => argProto('ARG_TYPE_ARBITRARY', a, true))],
        returnType: ret(schema), contextId: 1,
      }] : []),
    ],
    options: {},
  };
}

/**
 * The return type the calls of `f` in `tree` give through its schema argument (AI.GENERATE's
 * `output_schema => 'name STRING, …'`): the documented STRUCT with the `replaces` field replaced by
 * those columns. Undefined when no call gives one. Throws invalidQuery for a schema that is not a
 * string literal bqgate can read, or calls giving different schemas.
 */
export function schemaOf(f: FunctionSpec, tree: unknown): TypeProto | undefined {
  if (!f.schema) return undefined;
  const refuse = (why: string): never => { throw new BigQueryError('invalidQuery', `${f.name}: ${why} (${f.doc}); the statement was not run.`, { location: 'q' }); };
  const found = new Set<string>();
  let out: TypeProto | undefined;
  for (const call of nodesUnder('astFunctionCallNode', tree)) {
    if (pathOf(call.function).join('.').toUpperCase() !== f.name.toUpperCase()) continue;
    for (const arg of call.arguments ?? []) {
      const named = nodesUnder('astNamedArgumentNode', arg)[0];
      if (!named || String(named.name?.idString ?? '').toLowerCase() !== f.schema.arg) continue;
      const text = constant(named.expr);
      if (typeof text !== 'string') refuse(`${f.schema.arg} must be a string literal 'name TYPE, …'`);
      let cols: Column[] = [];
      try { cols = parseColumns(text as string); } catch (err) { refuse(`${f.schema.arg}: ${(err as Error).message}`); }
      const fields = (f.returns.structType?.field ?? []).flatMap((x) => (x.fieldName === f.schema!.replaces ? cols.map((c) => ({ fieldName: c.name, fieldType: c.type })) : [x]));
      out = { typeKind: 'TYPE_STRUCT', structType: { field: fields } };
      found.add(JSON.stringify(out));
    }
  }
  if (found.size > 1) refuse(`the calls in this statement give different ${f.schema.arg} values; bqgate registers one per function and statement. Split the statement`);
  return out;
}
