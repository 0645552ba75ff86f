/**
 * Why a corpus statement was refused, in two classes (`npm run coverage:sql`):
 * - `synthesizer`: the corpus catalog (corpus-catalog.ts) guessed a column's type, STRUCT shape or
 *   placement wrong, or lacks a variable the statement's script would declare — the statement would
 *   analyze against a real schema. Recognized by the analyzer's name- and type-resolution errors.
 * - `analyzer`: what no schema fixes — syntax, a function / TVF / routine / model / type the build
 *   does not know, an unsupported feature or statement kind, a server death, a structural limit.
 * A name or type error in a statement whose synthesized catalog stayed empty is the analyzer's
 * (nothing the synthesizer guessed was involved).
 */

export type FailureClass = 'synthesizer' | 'analyzer';

/** Errors that only a (better) schema removes: name resolution and types of synthesized columns. */
const SYNTHESIZER = [
  /Unrecognized name/, /not found inside/, /Cannot access field/, /No matching signature/, /is ambiguous/,
  /Column .* is not present in table/, /Column name .* not found in/, /in USING clause not found/,
  /Invalid cast from/, /cannot be (inserted into|assigned to|coerced)/, /Value has type/,
  /Array element type/, /Subscript access/, /must be an array|must be arrays|Values referenced in UNNEST/,
  /Cannot (?:read|use) (?:a |an )?(?:field|column)/, /has (?:mismatched )?type/i, /which (?:does not|cannot) support/,
  /Query has \d+ columns?|Inserted row has wrong column count|mismatched column count/, /expand to zero columns/,
  /Column .* of type .* cannot/, /should return type/, /is not a (?:STRUCT|valid|supported) (?:type|field)/i,
  /Grouping by expressions of type/, /Ordering by expressions of type/, /Aggregate function .* not allowed/,
  /Equality is not defined/, /does not support (?:equality|ordering|grouping)/, /Argument .* must be/i, /Expected .*, got/,
  /Correlated aliases are not supported/, /is not present in target table/, /Value of type .* cannot be assigned/, /Field name .* does not exist in STRUCT/, /in SELECT \* (?:EXCEPT|REPLACE) list does not exist/,
  /is not defined for arguments of type/, /has incompatible types/, /Could not cast literal/, /which is neither grouped nor aggregated/,
  /must be of type \w+ but was of type/, /FORMAT is not allowed for cast/, /Subscript access using/, /Number of arguments does not match/,
  /Invalid type for argument/, /cannot be inserted into column/, /Dot-star is not supported for type/, /Cannot GROUP BY field references/,
  /is not a valid (?:input|argument)/i, /Column \d+ in (?:UNION|INTERSECT|EXCEPT)/, /^.*requires a STRUCT/i,
];

/** `msg`: the last refusal; `guessed`: whether the synthesizer put anything in the catalog. */
export function classifyFailure(msg: string, guessed: boolean): FailureClass {
  // A RANGE column cannot be declared to the analyzer (src/sql/types.ts has no RANGE column type): no synthesis fixes it.
  if (/\bRANGE<\w+>.* which has type/.test(msg)) return 'analyzer';
  if (/Syntax error|not found: |is unsupported|died|restart|structural limit/i.test(msg) && !/Column name .* not found in|in USING clause not found/.test(msg)) return 'analyzer';
  return guessed && SYNTHESIZER.some((r) => r.test(msg)) ? 'synthesizer' : 'analyzer';
}

/** A refusal message reduced to its kind (names, literals and numbers blanked), for the top-reasons tables. */
export const reasonOf = (msg: string) => msg
  .replace(/^bqgate(?: could not analyze the query| cannot analyze this statement kind yet|'s SQL analyzer does not support a construct in this statement yet), so it was not run: /, '')
  .replace(/\[at \d+:\d+\]/g, '').replace(/`[^`]*`/g, '`…`').replace(/"[^"]*"/g, '"…"').replace(/'[^']*'/g, "'…'")
  .replace(/\b\d+\b/g, 'N').replace(/(Function not found|Table-valued function not found|Type not found|Procedure not found): ([\w.`…]+).*/, '$1: $2')
  .replace(/^(?!(?:Function|Table-valued function|Type|Procedure) not found)([^:]*): .*$/, '$1').slice(0, 90).trim();
