/**
 * GoogleSQL functions whose DuckDB macro depends on the arguments' types, as macro overloads
 * (DuckDB picks one by the argument types; an untyped overload takes the rest), merged into
 * translate-functions.ts MACROS. A failing `CAST('<why>' AS INTEGER)` raises BigQuery's error, as
 * there (the CAST is typed to the branch's type).
 *
 * - LPAD / RPAD of BYTES (https://cloud.google.com/bigquery/docs/reference/standard-sql/string_functions#lpad,
 *   #rpad): DuckDB pads VARCHAR only; BYTES are padded as their hex digits (two per byte, the
 *   pattern's hex repeated), so whole bytes are padded and truncated. The pattern defaults to a blank.
 * - REVERSE, LEFT, RIGHT, TRIM, LTRIM, RTRIM of BYTES (#reverse, #left, #right, #trim, #ltrim, #rtrim): on the bytes (DuckDB's
 *   are VARCHAR only), as lists of their hex pairs.
 * - COSINE_DISTANCE / EUCLIDEAN_DISTANCE of sparse vectors
 *   (https://cloud.google.com/bigquery/docs/reference/standard-sql/mathematical_functions#cosine_distance,
 *   #euclidean_distance): `ARRAY<STRUCT<dimension INT64, magnitude FLOAT64>>`, a missing dimension
 *   being 0 (STRING dimensions are not covered); dense vectors as before (DuckDB's list_cosine_similarity / list_distance).
 * - JSON_QUERY of a STRING (https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#json_null): a JSON null is NULL.
 * - ARRAY_FIRST / ARRAY_LAST (https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions#array_first,
 *   #array_last): an empty array is an error; the error sits in the subscript, so the result has the element's type
 *   (a CASE with the failing INTEGER cast in one branch could not mix with a STRING element).
 */

const pad = (fn: 'lpad' | 'rpad') => {
  const negative = (type: string) => `CAST('${fn.toUpperCase()}: the length is negative' AS INTEGER)::${type}`;
  const bytes = (p: string) => `CASE WHEN n < 0 THEN ${negative('BLOB')} ELSE unhex(${fn}(hex(s), (2 * n)::INTEGER, hex(${p}))) END`;
  const text = (p: string) => `CASE WHEN n < 0 THEN ${negative('VARCHAR')} ELSE ${fn}(s, n::INTEGER, ${p}) END`;
  return [['s BLOB, n', bytes("'\\x20'::BLOB")], ['s BLOB, n, p', bytes('p')], ['s, n', text("' '")], ['s, n, p', text('p')]] as Array<[string, string]>;
};

/** BYTES as the list of their bytes' hex pairs, and back. */
const pairs = (b: string) => `list_transform(range(0, strlen(hex(${b})), 2), lambda i: substr(hex(${b}), i + 1, 2))`;
const unpairs = (l: string) => `unhex(array_to_string(${l}, ''))`;
/** 1-based index of the first byte of `s` not in `t` (one past the end when none), from the start or (`rev`) the end. */
const kept = (rev: boolean) => `coalesce(list_position(${rev ? 'list_reverse(' : ''}list_transform(${pairs('s')}, lambda x: NOT list_contains(${pairs('t')}, x))${rev ? ')' : ''}, true), strlen(hex(s)) // 2 + 1)`;
/** #trim / #ltrim / #rtrim of BYTES: the bytes of `t` removed from the start and / or the end of `s`. */
const trimBytes = (start: boolean, end: boolean) => unpairs(`list_filter(${pairs('s')}, lambda x, i: ${start ? `i >= ${kept(false)}` : 'true'} AND ${end ? `i <= strlen(hex(s)) // 2 + 1 - ${kept(true)}` : 'true'})`);

/** The magnitude of dimension `k` in the sparse vector `v` (0 when absent). */
const at = (v: string, k: string) => `coalesce(list_filter(${v}, lambda e: e.k = ${k})[1].v, 0)`;
const SPARSE_COSINE = `1 - list_sum(list_transform(a, lambda x: x.v * ${at('b', 'x.k')}))
  / (sqrt(list_sum(list_transform(a, lambda x: x.v * x.v))) * sqrt(list_sum(list_transform(b, lambda y: y.v * y.v))))`;
const SPARSE_EUCLIDEAN = `sqrt(coalesce(list_sum(list_transform(a, lambda x: (x.v - ${at('b', 'x.k')}) ** 2)), 0)
  + coalesce(list_sum(list_transform(list_filter(b, lambda y: NOT list_contains(list_transform(a, lambda x: x.k), y.k)), lambda y: y.v ** 2)), 0))`;
/** A sparse vector with INT64 dimensions (one typed overload per arity, see `dispatched`: STRING dimensions are not covered). */
const SPARSE = 'STRUCT(k BIGINT, v DOUBLE)[]';
const lengths = (fn: string) => `CASE WHEN len(a) <> len(b) THEN CAST('${fn}: the arrays differ in length' AS INTEGER) ELSE`;

/**
 * `NAME__T` with the overloads, and `NAME`, untyped, per arity: it calls NAME__T on a lambda's parameter, which has its
 * arguments' types. DuckDB picks a macro's overload before it binds an aggregate or window argument (REVERSE(MAX(x))
 * would take the BYTES overload), not so a lambda's parameter (decimal-arith.ts does the same).
 */
function dispatched(macros: Record<string, Array<[string, string]>>): Record<string, Array<[string, string]>> {
  const out: Record<string, Array<[string, string]>> = {};
  for (const [name, overloads] of Object.entries(macros)) {
    out[`${name}__T`] = overloads;
    const arities = new Map(overloads.map(([params]) => {
      const names = params.replace(/\([^()]*\)/g, '').split(',').map((x) => x.trim().split(/\s+/)[0]); // a type's (…) dropped
      return [names.length, names] as const;
    }));
    out[name] = [...arities.values()].map((names) => [names.join(', '),
      `list_transform([{${names.map((n) => `'${n}': ${n}`).join(', ')}}], lambda bqgate_args: memory.main.bq_${name.toLowerCase()}__t(${names.map((n) => `bqgate_args.${n}`).join(', ')}))[1]`]);
  }
  return out;
}

/** name → overloads `[DuckDB macro parameters, body]`. */
export const TYPED_MACROS: Record<string, Array<[string, string]>> = dispatched({
  LPAD: pad('lpad'),
  RPAD: pad('rpad'),
  // #left / #right of BYTES: the first / last n bytes (a negative n is an error, as for STRING)
  LEFT: [['s BLOB, n', `CASE WHEN n < 0 THEN CAST('LEFT: the length is negative' AS INTEGER)::BLOB ELSE unhex(left(hex(s), (2 * n)::INTEGER)) END`], ['s, n', 'left(s, n)']],
  RIGHT: [['s BLOB, n', `CASE WHEN n < 0 THEN CAST('RIGHT: the length is negative' AS INTEGER)::BLOB ELSE unhex(right(hex(s), (2 * n)::INTEGER)) END`], ['s, n', 'right(s, n)']],
  TRIM: [['s', 'trim(s)'], ['s BLOB, t', trimBytes(true, true)], ['s, t', 'trim(s, t)']],
  LTRIM: [['s', 'ltrim(s)'], ['s BLOB, t', trimBytes(true, false)], ['s, t', 'ltrim(s, t)']],
  RTRIM: [['s', 'rtrim(s)'], ['s BLOB, t', trimBytes(false, true)], ['s, t', 'rtrim(s, t)']],
  REVERSE: [
    ['s BLOB', unpairs(`list_reverse(${pairs('s')})`)],
    ['s', 'reverse(s)'],
  ],
  COSINE_DISTANCE: [
    [`a ${SPARSE}, b ${SPARSE}`, SPARSE_COSINE],
    ['a, b', `${lengths('COSINE_DISTANCE')} 1 - list_cosine_similarity(a::DOUBLE[], b::DOUBLE[]) END`],
  ],
  EUCLIDEAN_DISTANCE: [
    [`a ${SPARSE}, b ${SPARSE}`, SPARSE_EUCLIDEAN],
    ['a, b', `${lengths('EUCLIDEAN_DISTANCE')} list_distance(a::DOUBLE[], b::DOUBLE[]) END`],
  ],
});

/** name → `[DuckDB macro parameters, body]`. */
export const PLAIN_MACROS: Record<string, [string, string]> = {
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#json_query: of a STRING, a JSON null is NULL
  // (#json_null); of JSON, JSON 'null'. A call, where polyglot's `j -> p` bound tighter than BigQuery's (`j -> (p IS NULL)`)
  JSON_QUERY: ['j, p', `CASE WHEN typeof(j) <> 'JSON' AND json_type(j::JSON, p) = 'NULL' THEN NULL ELSE json_extract(j::JSON, p) END`],
  ARRAY_FIRST: ['a', 'a[CASE WHEN len(a) = 0 THEN CAST(\'ARRAY_FIRST: the array is empty\' AS INTEGER) ELSE 1 END]'],
  ARRAY_LAST: ['a', 'a[CASE WHEN len(a) = 0 THEN CAST(\'ARRAY_LAST: the array is empty\' AS INTEGER) ELSE len(a) END]'],
};
