/**
 * GoogleSQL functions whose DuckDB macro depends on the arguments' types, as macro overloads
 * (DuckDB picks one by the argument types; an untyped overload takes the rest), merged into
 * translate-functions.ts MACROS. A failing `CAST('<why>' AS INTEGER)` raises BigQuery's error, as
 * there (the CAST is typed to the branch's type).
 *
 * - LPAD / RPAD of BYTES (https://cloud.google.com/bigquery/docs/reference/standard-sql/string_functions#lpad,
 *   #rpad): DuckDB pads VARCHAR only; BYTES are padded as their hex digits (two per byte, the
 *   pattern's hex repeated), so whole bytes are padded and truncated. The pattern defaults to a blank.
 * - REVERSE of BYTES (#reverse): the bytes in reverse order (DuckDB's reverse is VARCHAR only).
 * - COSINE_DISTANCE / EUCLIDEAN_DISTANCE of sparse vectors
 *   (https://cloud.google.com/bigquery/docs/reference/standard-sql/mathematical_functions#cosine_distance,
 *   #euclidean_distance): `ARRAY<STRUCT<dimension INT64 | STRING, magnitude FLOAT64>>`, a missing
 *   dimension being 0; dense vectors as before (DuckDB's list_cosine_similarity / list_distance).
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

/** The magnitude of dimension `k` in the sparse vector `v` (0 when absent). */
const at = (v: string, k: string) => `coalesce(list_filter(${v}, lambda e: e.k = ${k})[1].v, 0)`;
const SPARSE_COSINE = `1 - list_sum(list_transform(a, lambda x: x.v * ${at('b', 'x.k')}))
  / (sqrt(list_sum(list_transform(a, lambda x: x.v * x.v))) * sqrt(list_sum(list_transform(b, lambda y: y.v * y.v))))`;
const SPARSE_EUCLIDEAN = `sqrt(coalesce(list_sum(list_transform(a, lambda x: (x.v - ${at('b', 'x.k')}) ** 2)), 0)
  + coalesce(list_sum(list_transform(list_filter(b, lambda y: NOT list_contains(list_transform(a, lambda x: x.k), y.k)), lambda y: y.v ** 2)), 0))`;
const SPARSE_INT = 'STRUCT(k BIGINT, v DOUBLE)[]';
const SPARSE_STRING = 'STRUCT(k VARCHAR, v DOUBLE)[]';
const lengths = (fn: string) => `CASE WHEN len(a) <> len(b) THEN CAST('${fn}: the arrays differ in length' AS INTEGER) ELSE`;

/** name → overloads `[DuckDB macro parameters, body]`. */
export const TYPED_MACROS: Record<string, Array<[string, string]>> = {
  LPAD: pad('lpad'),
  RPAD: pad('rpad'),
  REVERSE: [
    ['s BLOB', `unhex(array_to_string(list_reverse(list_transform(range(0, strlen(hex(s)), 2), lambda i: substr(hex(s), i + 1, 2))), ''))`],
    ['s', 'reverse(s)'],
  ],
  COSINE_DISTANCE: [
    [`a ${SPARSE_INT}, b ${SPARSE_INT}`, SPARSE_COSINE],
    [`a ${SPARSE_STRING}, b ${SPARSE_STRING}`, SPARSE_COSINE],
    ['a, b', `${lengths('COSINE_DISTANCE')} 1 - list_cosine_similarity(a::DOUBLE[], b::DOUBLE[]) END`],
  ],
  EUCLIDEAN_DISTANCE: [
    [`a ${SPARSE_INT}, b ${SPARSE_INT}`, SPARSE_EUCLIDEAN],
    [`a ${SPARSE_STRING}, b ${SPARSE_STRING}`, SPARSE_EUCLIDEAN],
    ['a, b', `${lengths('EUCLIDEAN_DISTANCE')} list_distance(a::DOUBLE[], b::DOUBLE[]) END`],
  ],
  ARRAY_FIRST: [['a', 'a[CASE WHEN len(a) = 0 THEN CAST(\'ARRAY_FIRST: the array is empty\' AS INTEGER) ELSE 1 END]']],
  ARRAY_LAST: [['a', 'a[CASE WHEN len(a) = 0 THEN CAST(\'ARRAY_LAST: the array is empty\' AS INTEGER) ELSE len(a) END]']],
};
