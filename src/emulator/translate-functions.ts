/**
 * GoogleSQL functions that @polyglot-sql/sdk (0.12) passes to DuckDB unchanged or with another
 * meaning, and that DuckDB has no built-in for, as DuckDB macros the engine creates once at open
 * (`createNativeFunctions`) in its default catalog (`memory.main`, reachable by qualified name
 * from every connection whatever its `USE`; a macro cannot touch a table, so the emulator's
 * guards are unchanged).
 *
 * Translation (translate.ts) renames a call `F(` of a function here to `bqgate_fn__F(` before
 * polyglot reads the statement (polyglot passes unknown functions through, so it cannot mistranslate
 * them) and `bqgate_fn__F(` to `memory.main.bq_f(` after (`nativeCalls`). Each macro follows the
 * BigQuery page of its function (URL per group below); where a BigQuery function raises an error
 * the macro raises one too (a failing `CAST('<why>' AS INTEGER)`: DuckDB's `error()` is volatile,
 * which TRY refuses), and SAFE. variants become DuckDB's `TRY(…)`
 * (https://duckdb.org/docs/stable/sql/expressions/try), which turns an evaluation error into NULL
 * as BigQuery's SAFE. prefix does (https://cloud.google.com/bigquery/docs/reference/standard-sql/functions-reference#safe_prefix).
 * Before polyglot too: BYTES literals become `FROM_HEX('<hex>')` (`bytesLiterals`) and `FORMAT('%T', x)` the FORMAT_T macro.
 * APPROX_TOP_* are exact here; HLL_COUNT.* sketches are the emulator's own (JSON of the distinct values), not BigQuery's bytes.
 */
import { scan } from './translate.js';
import { closing } from './native-masks.js';
import { DATETIME_MACROS } from './translate-datetime.js';
import { NATIVE_MACROS, normalizeModes } from './native-functions.js';
import { unicodeEscapes } from './translate-escapes.js';
import { RANGE_MACROS, rangeLiterals } from './translate-range.js';
import { JSON_MACROS } from './json-macros.js';
import { DECIMAL_MACROS } from './decimal-arith.js';
import { PLAIN_MACROS, TYPED_MACROS } from './typed-macros.js';
import { TO_JSON_MACROS } from './to-json-string.js';
import { SEMANTICS_MACROS } from './translate-semantics.js';

const RENAMED = 'bqgate_fn__';

/** PARSE_NUMERIC's text made DuckDB-castable: `[+-] digits[,…][.digits][e±n] [+-]` → `±digits…`, or a failing cast saying why. */
const PARSE_DECIMAL = `CASE WHEN NOT regexp_full_match(s, '\\s*[+-]?\\s*[0-9,]*\\.?[0-9]*(?:[eE][+-]?[0-9]+)?\\s*[+-]?\\s*')
  OR regexp_full_match(s, '\\s*[+-].*[0-9.]\\s*[+-]\\s*') OR NOT regexp_matches(s, '[0-9]')
  THEN CAST('PARSE_NUMERIC: invalid input' AS INTEGER)::VARCHAR
  ELSE regexp_extract(s, '^\\s*([+-])', 1) || regexp_extract(s, '([+-])\\s*$', 1)
    || replace(regexp_replace(s, '^\\s*[+-]?\\s*|\\s*[+-]?\\s*$', '', 'g'), ',', '') END`;
const SAFE = 'bqgate_safe__';

/** name (GoogleSQL, upper case; `NET.X` for the NET group) → [DuckDB macro parameters, body], or its overloads (by the parameters' types). */
export const MACROS: Record<string, [string, string] | Array<[string, string]>> = {
  ...DATETIME_MACROS, // INTERVAL functions (translate-datetime.ts)
  ...RANGE_MACROS, // RANGE_START/END/OVERLAPS/CONTAINS over RANGE literals (translate-range.ts)
  ...NATIVE_MACROS, // over JS scalars: INSTR, REGEXP_INSTR, SOUNDEX, NORMALIZE*, *_BASE32, FARM_FINGERPRINT (native-functions.ts)
  ...JSON_MACROS, // strict JSON converters (json-macros.ts)
  ...TYPED_MACROS, // LPAD / RPAD / REVERSE of BYTES, sparse vector distances (typed-macros.ts)
  ...PLAIN_MACROS, // JSON_QUERY of a JSON null, ARRAY_FIRST / ARRAY_LAST of any element type (typed-macros.ts)
  ...DECIMAL_MACROS, // the / and * operators and AVG with BigQuery's result types, division by zero as an error (decimal-arith.ts)
  ...TO_JSON_MACROS, // TO_JSON_STRING with BigQuery's JSON encodings (to-json-string.ts)
  ...SEMANTICS_MACROS, // ARRAY_SLICE, BIT_*(DISTINCT), APPROX_QUANTILES with the documented answers (translate-semantics.ts)
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/mathematical_functions
  CSC: ['x', 'CASE WHEN sin(x) = 0 THEN CAST(\'division by zero: CSC(0)\' AS INTEGER) ELSE 1 / sin(x) END'],
  SEC: ['x', '1 / cos(x)'],
  COT: ['x', 'CASE WHEN tan(x) = 0 THEN CAST(\'division by zero: COT(0)\' AS INTEGER) ELSE 1 / tan(x) END'],
  CSCH: ['x', 'CASE WHEN x = 0 THEN CAST(\'division by zero: CSCH(0)\' AS INTEGER) ELSE 2 / (exp(x) - exp(-x)) END'],
  SECH: ['x', '2 / (exp(x) + exp(-x))'],
  COTH: ['x', 'CASE WHEN x = 0 THEN CAST(\'division by zero: COTH(0)\' AS INTEGER) ELSE (exp(x) + exp(-x)) / (exp(x) - exp(-x)) END'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/string_functions
  // #byte_length: bytes of a STRING's UTF-8 (DuckDB's strlen) or of BYTES (DuckDB folds the CASE by the argument's type)
  BYTE_LENGTH: ['x', 'CASE WHEN typeof(x) = \'BLOB\' THEN octet_length(x::BLOB) ELSE strlen(x::VARCHAR) END'],
  TO_CODE_POINTS: ['s', 'CASE WHEN s IS NULL THEN NULL WHEN typeof(s) = \'BLOB\' THEN list_transform(range(0, strlen(hex(s)), 2), lambda i: (\'0x\' || substr(hex(s), i + 1, 2))::BIGINT) WHEN s::VARCHAR = \'\' THEN []::BIGINT[] ELSE list_transform(string_split(s::VARCHAR, \'\'), lambda c: unicode(c)::BIGINT) END'],
  CODE_POINTS_TO_STRING: ['a', 'CASE WHEN a IS NULL OR len(list_filter(a, lambda e: e IS NULL)) > 0 THEN NULL ELSE array_to_string(list_transform(a, lambda c: chr(c::INTEGER)), \'\') END'],
  INITCAP: ['s, d := \' []()-{}/\\|<>!?@"^#$&~_,.:;*%+\'', 'CASE WHEN s IS NULL OR d IS NULL THEN NULL ELSE array_to_string(list_transform(range(length(s)), lambda i: CASE WHEN i = 0 OR contains(d, substr(s, i, 1)) THEN upper(substr(s, i + 1, 1)) ELSE lower(substr(s, i + 1, 1)) END), \'\') END'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions#parse_numeric: a sign before or after
  // the digits (blanks between), commas anywhere in the whole part, an exponent; anything else is an error
  PARSE_NUMERIC: ['s', `CAST(${PARSE_DECIMAL} AS DECIMAL(38,9))`],
  // #parse_bignumeric (BIGNUMERIC is DECIMAL(38,19) in the emulator: decimal-values.ts)
  PARSE_BIGNUMERIC: ['s', `CAST(${PARSE_DECIMAL} AS DECIMAL(38,19))`],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/mathematical_functions#pi_numeric
  PI_NUMERIC: ['', 'CAST(\'3.141592654\' AS DECIMAL(38,9))'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/approximate_aggregate_functions#approx_top_count:
  // exact here — the n most frequent values (NULL counted as a value) as ARRAY<STRUCT<value, count>>, most frequent first
  // (BQGATE_TOP_LIST: the distinct values of a list of {v, w} by their summed weight w, largest first)
  BQGATE_TOP_LIST: ['l, n', 'list_transform(list_slice(list_sort(list_transform(list_distinct(list_transform(l, lambda e: {\'v\': e.v})), lambda k: {\'z\': list_sum(list_transform(list_filter(l, lambda e: e.v IS NOT DISTINCT FROM k.v), lambda e: e.w)) IS NULL, \'o\': -list_sum(list_transform(list_filter(l, lambda e: e.v IS NOT DISTINCT FROM k.v), lambda e: e.w)), \'v\': k.v, \'s\': list_sum(list_transform(list_filter(l, lambda e: e.v IS NOT DISTINCT FROM k.v), lambda e: e.w))})), 1, n), lambda e: {\'value\': e.v, \'sum\': e.s})'],
  APPROX_TOP_COUNT: ['x, n', 'list_transform(memory.main.bq_bqgate_top_list(list({\'v\': x, \'w\': 1}), n), lambda e: {\'value\': e.value, \'count\': e.sum::BIGINT})'],
  // #approx_top_sum: exact here — the n values of largest summed weight (NULL sums last), as ARRAY<STRUCT<value, sum>>
  APPROX_TOP_SUM: ['x, w, n', 'memory.main.bq_bqgate_top_list(list({\'v\': x, \'w\': w}), n)'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/hll_functions: the emulator's sketch is NOT BigQuery's HLL++
  // bytes but the JSON array of the distinct values (as text) in BYTES: INIT → MERGE / MERGE_PARTIAL → EXTRACT round-trip
  // within the emulator with exact counts; a sketch made by BigQuery cannot be read here, nor the reverse
  'HLL_COUNT.INIT': ['x, p := 15', 'encode(to_json(coalesce(list_distinct(list(x::VARCHAR)), []::VARCHAR[]))::VARCHAR)'],
  'HLL_COUNT.MERGE_PARTIAL': ['s', 'encode(to_json(coalesce(list_distinct(flatten(list(from_json(decode(s), \'["VARCHAR"]\')))), []::VARCHAR[]))::VARCHAR)'],
  'HLL_COUNT.MERGE': ['s', 'coalesce(len(list_distinct(flatten(list(from_json(decode(s), \'["VARCHAR"]\'))))), 0)::BIGINT'],
  'HLL_COUNT.EXTRACT': ['s', 'len(from_json(decode(s), \'["VARCHAR"]\'))::BIGINT'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/string_functions#format_string: FORMAT('%T', x) alone (renameCalls),
  // x as a GoogleSQL literal: BYTES as b"…" (printable ASCII as is, the rest \\xhh), STRING quoted, NULL as NULL, others as text
  FORMAT_T: ['x', `CASE WHEN x IS NULL THEN 'NULL' WHEN typeof(x) = 'BLOB' THEN 'b"' || array_to_string(list_transform(range(0, strlen(hex(x::BLOB)), 2),
    lambda i: CASE WHEN ('0x' || substr(hex(x::BLOB), i + 1, 2))::INTEGER BETWEEN 32 AND 126 AND substr(hex(x::BLOB), i + 1, 2) NOT IN ('22', '5C')
      THEN chr(('0x' || substr(hex(x::BLOB), i + 1, 2))::INTEGER) ELSE '\\x' || lower(substr(hex(x::BLOB), i + 1, 2)) END), '') || '"'
    WHEN typeof(x) = 'VARCHAR' THEN '"' || replace(replace(x::VARCHAR, '\\', '\\\\'), '"', '\\"') || '"' ELSE CAST(x AS VARCHAR) END`],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/net_functions#netipv4_from_int64 (the low 32 bits, big-endian)
  'NET.IPV4_FROM_INT64': ['x', `CASE WHEN x < -2147483648 OR x > 4294967295 THEN CAST('NET.IPV4_FROM_INT64: out of range' AS INTEGER)::BLOB
    ELSE unhex(lpad(hex(x & 4294967295), 8, '0')) END`],
  // #netip_net_mask: x bytes (4 or 16) whose first y bits are 1
  'NET.IP_NET_MASK': ['x, y', `CASE WHEN x NOT IN (4, 16) OR y < 0 OR y > 8 * x THEN CAST('NET.IP_NET_MASK: invalid arguments' AS INTEGER)::BLOB
    ELSE unhex(array_to_string(list_transform(range(x), lambda i: lpad(hex((256 - 2 ** (8 - greatest(0, least(8, y - 8 * i))))::INTEGER), 2, '0')), '')) END`],
  // #netip_from_string: the address's bytes, 4 (IPv4) or 16 (IPv6, `::` and a dotted IPv4 tail allowed); BQGATE_IP_HEX gives
  // their hex, NULL when the text is no address (IP_FROM_STRING raises, SAFE_IP_FROM_STRING returns NULL)
  BQGATE_IPV4_HEX: ['s', `CASE WHEN regexp_full_match(s, '(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})')
    AND list_bool_and(list_transform(string_split(s, '.'), lambda o: o::INTEGER <= 255))
    THEN array_to_string(list_transform(string_split(s, '.'), lambda o: lpad(hex(o::INTEGER), 2, '0')), '') END`],
  BQGATE_IPV6_GROUPS: ['t', `CASE WHEN NOT regexp_full_match(t, '[0-9A-Fa-f:]+') OR length(t) - length(replace(t, '::', '')) > 2
    OR NOT list_bool_and(list_transform(list_filter(string_split(t, ':'), lambda g: g <> ''), lambda g: length(g) <= 4)) THEN NULL
    WHEN contains(t, '::') THEN array_to_string(list_transform(list_filter(string_split(split_part(t, '::', 1), ':'), lambda g: g <> ''), lambda g: lpad(g, 4, '0')), '')
      || repeat('0000', 8 - len(list_filter(string_split(t, ':'), lambda g: g <> '')))
      || array_to_string(list_transform(list_filter(string_split(split_part(t, '::', 2), ':'), lambda g: g <> ''), lambda g: lpad(g, 4, '0')), '')
    WHEN len(string_split(t, ':')) = 8 AND NOT list_contains(string_split(t, ':'), '') THEN array_to_string(list_transform(string_split(t, ':'), lambda g: lpad(g, 4, '0')), '') END`],
  BQGATE_IP_HEX: ['s', `CASE WHEN NOT contains(s, ':') THEN memory.main.bq_bqgate_ipv4_hex(s)
    WHEN regexp_matches(s, ':[0-9]+\\.[0-9.]+$') THEN CASE WHEN memory.main.bq_bqgate_ipv4_hex(regexp_extract(s, '[0-9.]+$')) IS NOT NULL
      THEN memory.main.bq_bqgate_ipv6_groups(regexp_replace(s, '[0-9.]+$', '') || substr(memory.main.bq_bqgate_ipv4_hex(regexp_extract(s, '[0-9.]+$')), 1, 4)
        || ':' || substr(memory.main.bq_bqgate_ipv4_hex(regexp_extract(s, '[0-9.]+$')), 5, 4)) END
    ELSE memory.main.bq_bqgate_ipv6_groups(s) END`],
  // #netipv4_to_int64: 4 bytes, big-endian, as an INT64
  'NET.IPV4_TO_INT64': ['b', `CASE WHEN octet_length(b) <> 4 THEN CAST('NET.IPV4_TO_INT64: not 4 bytes' AS INTEGER)::BIGINT ELSE ('0x' || hex(b))::BIGINT END`],
  // #netip_trunc: the address with the bits after the first p set to 0
  'NET.IP_TRUNC': ['b, p', `CASE WHEN octet_length(b) NOT IN (4, 16) OR p < 0 OR p > 8 * octet_length(b) THEN CAST('NET.IP_TRUNC: invalid arguments' AS INTEGER)::BLOB
    ELSE unhex(array_to_string(list_transform(range(octet_length(b)), lambda i: lpad(hex(('0x' || substr(hex(b), 2 * i + 1, 2))::INTEGER & (256 - 2 ** (8 - greatest(0, least(8, p - 8 * i))))::INTEGER), 2, '0')), '')) END`],
  // #netip_to_string: 4 bytes dotted; 16 as RFC 5952 text (lowercase, the longest run of ≥ 2 zero groups as ::, an IPv4-mapped
  // address as ::ffff:a.b.c.d). Helpers: BQGATE_DOTTED (8 hex digits → a.b.c.d), BQGATE_IPV6_CUT (8 groups, the run's length and start)
  BQGATE_DOTTED: ['h', `array_to_string(list_transform(range(4), lambda i: (('0x' || substr(h, 2 * i + 1, 2))::INTEGER)::VARCHAR), '.')`],
  BQGATE_IPV6_CUT: ['g, n, k', `CASE WHEN n IS NULL THEN array_to_string(g, ':') ELSE array_to_string(list_slice(g, 1, k - 1), ':') || '::' || array_to_string(list_slice(g, k + n, 8), ':') END`],
  BQGATE_IPV6_ZIP: ['g, z', `memory.main.bq_bqgate_ipv6_cut(g, list_filter(range(8, 1, -1), lambda n: contains(z, repeat('1', n)))[1],
    strpos(z, repeat('1', list_filter(range(8, 1, -1), lambda n: contains(z, repeat('1', n)))[1])))`],
  BQGATE_IPV6_TEXT: ['g', `memory.main.bq_bqgate_ipv6_zip(g, array_to_string(list_transform(g, lambda x: CASE WHEN x = '0' THEN '1' ELSE '0' END), ''))`],
  'NET.IP_TO_STRING': ['b', `CASE WHEN b IS NULL THEN NULL WHEN octet_length(b) = 4 THEN memory.main.bq_bqgate_dotted(hex(b))
    WHEN octet_length(b) <> 16 THEN CAST('NET.IP_TO_STRING: not 4 or 16 bytes' AS INTEGER)::VARCHAR
    WHEN starts_with(hex(b), '00000000000000000000FFFF') THEN '::ffff:' || memory.main.bq_bqgate_dotted(substr(hex(b), 25, 8))
    ELSE memory.main.bq_bqgate_ipv6_text(list_transform(range(8), lambda i: CASE WHEN ltrim(substr(hex(b), 4 * i + 1, 4), '0') = '' THEN '0'
      ELSE lower(ltrim(substr(hex(b), 4 * i + 1, 4), '0')) END)) END`],
  'NET.IP_FROM_STRING': ['s', `CASE WHEN s IS NULL THEN NULL WHEN length(memory.main.bq_bqgate_ip_hex(s)) IN (8, 32) THEN unhex(lower(memory.main.bq_bqgate_ip_hex(s)))
    ELSE CAST('NET.IP_FROM_STRING: not an IPv4 or IPv6 address' AS INTEGER)::BLOB END`],
  'NET.SAFE_IP_FROM_STRING': ['s', `CASE WHEN length(memory.main.bq_bqgate_ip_hex(s)) IN (8, 32) THEN unhex(lower(memory.main.bq_bqgate_ip_hex(s))) END`],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/bit_functions#bit_count: the set bits of an INT64 or of BYTES
  BIT_COUNT: ['x', `CASE WHEN typeof(x) = 'BLOB' THEN coalesce(list_sum(list_transform(range(0, strlen(hex(x)), 2), lambda i: bit_count(('0x' || substr(hex(x), i + 1, 2))::INTEGER))), 0)::BIGINT
    ELSE bit_count(TRY_CAST(x::VARCHAR AS BIGINT))::BIGINT END`],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/hash_functions#md5 (BYTES: DuckDB's md5 is the hex text)
  MD5: ['x', 'unhex(md5(x))'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions
  ARRAY_MIN: ['a', 'list_min(a)'],
  ARRAY_MAX: ['a', 'list_max(a)'],
  ARRAY_SUM: ['a', 'list_sum(a)'],
  ARRAY_AVG: ['a', 'list_avg(a)'],
  ARRAY_IS_DISTINCT: ['a', 'CASE WHEN a IS NULL THEN NULL ELSE len(a) = len(list_distinct(a)) + (len(list_filter(a, lambda e: e IS NULL)) > 0)::INTEGER END'],
  ARRAY_INCLUDES_ANY: ['a, b', 'CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE list_has_any(a, b) END'],
  ARRAY_INCLUDES_ALL: ['a, b', 'CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE list_has_all(a, b) END'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/date_functions#date_add (a DATE: DuckDB's DATE + INTERVAL is a TIMESTAMP)
  DATE_ADD: ['d, i', 'CAST(CAST(d AS DATE) + i AS DATE)'],
  DATE_SUB: ['d, i', 'CAST(CAST(d AS DATE) - i AS DATE)'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#timestamp_from_unix_seconds
  TIMESTAMP_FROM_UNIX_SECONDS: ['x', 'CASE WHEN typeof(x) LIKE \'TIMESTAMP%\' THEN x::TIMESTAMP ELSE make_timestamp(TRY_CAST(x AS BIGINT) * 1000000) END'],
  TIMESTAMP_FROM_UNIX_MILLIS: ['x', 'CASE WHEN typeof(x) LIKE \'TIMESTAMP%\' THEN x::TIMESTAMP ELSE make_timestamp(TRY_CAST(x AS BIGINT) * 1000) END'],
  TIMESTAMP_FROM_UNIX_MICROS: ['x', 'CASE WHEN typeof(x) LIKE \'TIMESTAMP%\' THEN x::TIMESTAMP ELSE make_timestamp(TRY_CAST(x AS BIGINT)) END'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/date_functions#date_from_unix_date
  DATE_FROM_UNIX_DATE: ['n', 'DATE \'1970-01-01\' + n::INTEGER'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions
  JSON_VALUE: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) IN (\'OBJECT\', \'ARRAY\') THEN NULL ELSE json_extract_string(j::JSON, p) END'],
  JSON_EXTRACT_SCALAR: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) IN (\'OBJECT\', \'ARRAY\') THEN NULL ELSE json_extract_string(j::JSON, p) END'],
  JSON_QUERY_ARRAY: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) = \'ARRAY\' THEN list_transform(json_extract(j::JSON, p)::JSON[], lambda e: CASE WHEN typeof(j) = \'JSON\' THEN e ELSE e::VARCHAR END) END'],
  JSON_EXTRACT_ARRAY: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) = \'ARRAY\' THEN list_transform(json_extract(j::JSON, p)::JSON[], lambda e: CASE WHEN typeof(j) = \'JSON\' THEN e ELSE e::VARCHAR END) END'],
  JSON_VALUE_ARRAY: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) = \'ARRAY\' AND NOT list_contains(list_transform(json_extract(j::JSON, p)::JSON[], lambda e: json_type(e) IN (\'OBJECT\', \'ARRAY\')), true) THEN list_transform(json_extract(j::JSON, p)::JSON[], lambda e: json_extract_string(e, \'$\')) END'],
  JSON_EXTRACT_STRING_ARRAY: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) = \'ARRAY\' AND NOT list_contains(list_transform(json_extract(j::JSON, p)::JSON[], lambda e: json_type(e) IN (\'OBJECT\', \'ARRAY\')), true) THEN list_transform(json_extract(j::JSON, p)::JSON[], lambda e: json_extract_string(e, \'$\')) END'],
  LAX_BOOL: ['j', 'CASE json_type(j) WHEN \'BOOLEAN\' THEN j::BOOLEAN WHEN \'VARCHAR\' THEN CASE lower(json_extract_string(j, \'$\')) WHEN \'true\' THEN true WHEN \'false\' THEN false END WHEN \'BIGINT\' THEN j::BIGINT <> 0 WHEN \'UBIGINT\' THEN j::UBIGINT <> 0 WHEN \'DOUBLE\' THEN j::DOUBLE <> 0 END'],
  LAX_INT64: ['j', 'CASE json_type(j) WHEN \'BOOLEAN\' THEN j::BOOLEAN::BIGINT WHEN \'BIGINT\' THEN j::BIGINT WHEN \'UBIGINT\' THEN TRY_CAST(j::UBIGINT AS BIGINT) WHEN \'DOUBLE\' THEN TRY_CAST(round_even(j::DOUBLE, 0) AS BIGINT) WHEN \'VARCHAR\' THEN TRY_CAST(round_even(TRY_CAST(json_extract_string(j, \'$\') AS DOUBLE), 0) AS BIGINT) END'],
  LAX_FLOAT64: ['j', 'CASE json_type(j) WHEN \'BIGINT\' THEN j::DOUBLE WHEN \'UBIGINT\' THEN j::DOUBLE WHEN \'DOUBLE\' THEN j::DOUBLE WHEN \'VARCHAR\' THEN TRY_CAST(json_extract_string(j, \'$\') AS DOUBLE) END'],
  LAX_STRING: ['j', 'CASE json_type(j) WHEN \'VARCHAR\' THEN json_extract_string(j, \'$\') WHEN \'BOOLEAN\' THEN j::VARCHAR WHEN \'BIGINT\' THEN j::VARCHAR WHEN \'UBIGINT\' THEN j::VARCHAR WHEN \'DOUBLE\' THEN j::VARCHAR END'],
};

/** The DDL that creates every macro in `memory.main` (run once, before the engine locks its configuration). */
export function nativeFunctionDdl(): string[] {
  return Object.entries(MACROS).map(([name, m]) => {
    const overloads = (typeof m[0] === 'string' ? [m] : m) as Array<[string, string]>;
    return `CREATE OR REPLACE MACRO memory.main.${macroName(name)}${overloads.map(([params, body]) => `(${params}) AS ${body}`).join(', ')}`;
  });
}

const macroName = (name: string) => `bq_${name.toLowerCase().replace(/\./g, '_')}`;

const CALL = new RegExp(`\\b(SAFE\\.)?(${Object.keys(MACROS).map((n) => n.replace('.', '\\s*\\.\\s*')).sort((a, b) => b.length - a.length).join('|')})\\s*\\(`, 'gi');
/** `FORMAT('%T', ` (the format string exactly `%T`): the FORMAT_T macro. */
const FORMAT_T = /\bFORMAT\s*\(\s*(['"])%T\1\s*,/gi;
const SAFE_CALL = /\bSAFE\s*\.\s*([A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)?)\s*\(/gi;

/** Index of the parenthesis closing the one at `open` in GoogleSQL text (strings, comments and backticks skipped); -1 if none. */
function closeParen(sql: string, open: number): number {
  const skip: Array<[number, number]> = [];
  scan(sql, (_k, s, e) => skip.push([s, e]));
  return closing(sql, open, skip) - 1;
}

/** Whether `at` is inside a string, comment, backtick or parameter of GoogleSQL `sql`. */
function inLexeme(sql: string, at: number): boolean {
  let hit = false;
  scan(sql, (_k, s, e) => { if (at >= s && at < e) hit = true; });
  return hit;
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '?': 63, '"': 34, "'": 39, '`': 96 };

/** The bytes of a GoogleSQL BYTES literal's body (between its quotes), escapes decoded unless raw (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#string_and_bytes_literals). */
function bytesOf(body: string, raw: boolean): Buffer {
  if (raw) return Buffer.from(body, 'utf8');
  const cs = Array.from(body); // code points
  const out: number[] = [];
  for (let i = 0; i < cs.length; i++) {
    if (cs[i] !== '\\') { out.push(...Buffer.from(cs[i], 'utf8')); continue; }
    const e = cs[++i] ?? '';
    const next = (n: number) => cs.slice(i + 1, i + 1 + n).join('');
    if (/[xX]/.test(e) && /^[0-9A-Fa-f]{2}$/.test(next(2))) { out.push(parseInt(next(2), 16)); i += 2; }
    else if (/^[0-7]{3}$/.test(e + next(2))) { out.push(parseInt(e + next(2), 8) & 255); i += 2; }
    else if (e in SIMPLE_ESCAPES) out.push(SIMPLE_ESCAPES[e]);
    else out.push(...Buffer.from(`\\${e}`, 'utf8')); // not a BYTES escape: the analyzer refuses it before the emulator sees it
  }
  return Buffer.from(out);
}

/**
 * Every BYTES literal (`b'…'`, `B"…"`, `rb'…'`, triple-quoted too) as `FROM_HEX('<hex>')`: polyglot writes a BYTES literal as a
 * DuckDB escape string (`CAST(e'\xff' AS BLOB)`), which DuckDB refuses when its bytes are not UTF-8 ("pg_verifymbstr") — an
 * upstream bug; FROM_HEX is UNHEX in DuckDB, the exact bytes whatever they are.
 */
export function bytesLiterals(sql: string): string {
  if (!/[bB][rR]?['"]|[rR][bB]['"]/.test(sql)) return sql;
  const edits: Array<[number, number, string]> = [];
  scan(sql, (kind, s, e) => {
    const p = kind === 'string' ? /(?:^|[^\w])([bB][rR]?|[rR][bB])$/.exec(sql.slice(Math.max(0, s - 3), s))?.[1] : undefined;
    if (!p) return;
    const q = sql.startsWith(sql[s].repeat(3), s) && e - s >= 6 ? 3 : 1;
    edits.push([s - p.length, e, `FROM_HEX('${bytesOf(sql.slice(s + q, e - q), /[rR]/.test(p)).toString('hex')}')`]);
  });
  let out = sql;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}

/**
 * GoogleSQL text with calls of MACROS functions renamed (`bqgate_fn__F(`) and `SAFE.F(args)` wrapped
 * (`bqgate_safe__(F(args))`), for polyglot to pass through.
 */
export function renameCalls(sql0: string): string {
  const sql = rangeLiterals(normalizeModes(unicodeEscapes(bytesLiterals(sql0))));
  if (!new RegExp(CALL.source, 'i').test(sql) && !/\bSAFE\s*\./i.test(sql) && !/%T/.test(sql)) return sql;
  let out = sql;
  // SAFE.F(args) → bqgate_safe__(F(args)), innermost last so offsets stay valid (right to left).
  const safes = [...out.matchAll(SAFE_CALL)].filter((m) => !inLexeme(out, m.index!) && !/[\w.]/.test(out[m.index! - 1] ?? ''));
  for (const m of safes.reverse()) {
    const open = m.index! + m[0].length - 1;
    const close = closeParen(out, open);
    if (close < 0) continue;
    out = `${out.slice(0, m.index!)}${SAFE}(${m[1]}${out.slice(open, close + 1)})${out.slice(close + 1)}`;
  }
  out = out.replace(FORMAT_T, (m, at: number) => (inLexeme(out, at) || /[\w.]/.test(out[at - 1] ?? '') ? m : `${RENAMED}FORMAT_T(`));
  return out.replace(CALL, (m, safe: string | undefined, name: string, at: number) =>
    (safe || inLexeme(out, at) || /[\w.]/.test(out[at - 1] ?? '') ? m : `${RENAMED}${name.replace(/\s+/g, '').replace('.', '_')}(`));
}

/** Translated DuckDB text with the renamed calls pointed at the macros, and SAFE. wrappers as TRY(…). */
export function nativeCalls(duck: string): string {
  if (!duck.toLowerCase().includes('bqgate_')) return duck;
  return duck
    .replace(new RegExp(`"?${RENAMED}([A-Za-z0-9_]+)"?\\s*\\(`, 'gi'), (_m, name: string) => `memory.main.bq_${name.toLowerCase()}(`)
    .replace(new RegExp(`"?${SAFE}"?\\s*\\(`, 'gi'), 'TRY(');
}
