/**
 * Where the emulator answered otherwise than the BigQuery function reference documents (issue 20,
 * the docs cases' "another value than documented"): the rewrites of the files below, applied by
 * translate.ts to every statement, before polyglot (GoogleSQL text) and after it (DuckDB text), and
 * their DuckDB macros (spread into translate-functions.ts MACROS).
 *
 * - array-semantics.ts: ARRAY_SLICE's offsets, the 0-based index of ARRAY_FILTER / ARRAY_TRANSFORM
 *   lambdas, GENERATE_*_ARRAY with a NULL argument;
 * - aggregate-semantics.ts: STRING_AGG … LIMIT, BIT_*(DISTINCT …), APPROX_QUANTILES, CORR, PERCENTILE_DISC;
 * - anonymous-structs.ts: STRUCT(a, b) takes the field names of the STRUCT it unifies with, by position;
 * - timestamp-string.ts: STRING(timestamp, time_zone) with the zone's offset;
 * - format-elements.ts: FORMAT_DATE / FORMAT_DATETIME / FORMAT_TIMESTAMP elements DuckDB's strftime
 *   reads otherwise (`%x`, `%X`, `%D`, `%F`, `%R`, `%T`);
 * - time-functions.ts: FORMAT_TIME, PARSE_TIME, TIME_TRUNC, FORMAT_TIMESTAMP with a zone, DATE(ts, zone);
 * - struct-star.ts: `l.location.*` / `a[1].*` (a STRUCT's fields as columns), which DuckDB cannot parse;
 * - array-includes.ts: ARRAY_INCLUDES with a value or a lambda.
 */
import { ARRAY_MACROS, lambdaOffsets, nullSeries } from './array-semantics.js';
import { AGGREGATE_MACROS, aggregateCalls, percentileDisc, percentileRespectNulls } from './aggregate-semantics.js';
import { formatElements } from './format-elements.js';
import { TIMESTAMP_STRING_MACROS, timestampStrings } from './timestamp-string.js';
import { anonymousStructs } from './anonymous-structs.js';
import { timeFunctions } from './time-functions.js';
import { structStars } from './struct-star.js';
import { ARRAY_INCLUDES_MACROS, arrayIncludesLambdas } from './array-includes.js';

export const SEMANTICS_MACROS: Record<string, [string, string] | Array<[string, string]>> = { ...ARRAY_MACROS, ...AGGREGATE_MACROS, ...TIMESTAMP_STRING_MACROS, ...ARRAY_INCLUDES_MACROS };

/** On the GoogleSQL text, before any other rewrite of translate.ts. */
export const semanticsBeforePolyglot = (sql: string): string => timeFunctions(timestampStrings(aggregateCalls(lambdaOffsets(arrayIncludesLambdas(percentileRespectNulls(sql))))));

/** On each translated DuckDB statement, after polyglot-fixes.ts. */
export const semanticsAfterPolyglot = (duck: string): string => percentileDisc(structStars(anonymousStructs(formatElements(nullSeries(duck)))));
