/**
 * Masking rules as GoogleSQL expressions, with BigQuery's per-type semantics
 * (https://cloud.google.com/bigquery/docs/column-data-masking-intro#masking_options):
 *
 * | rule | types | result |
 * |---|---|---|
 * | SHA256 | STRING, BYTES | SHA-256 of the value (STRING: lowercase hex) |
 * | HMAC_SHA256 | STRING, BYTES, INT64, NUMERIC | HMAC-SHA256 (RFC 2104) with the gateway's key, lowercase hex: not reversible by brute force without the key |
 * | RANDOM_HASH | STRING, BYTES, INT64, NUMERIC | SHA-256 of a per-query random salt and the value, lowercase hex: joins within a query, no linkage across queries |
 * | EMAIL_MASK | STRING | `XXXXX@domain` for a syntax-valid address, else SHA256 |
 * | LAST_FOUR_CHARACTERS | STRING | `XXXXX` + last 4 characters when longer than 4, else SHA256 |
 * | FIRST_FOUR_CHARACTERS | STRING | first 4 characters + `XXXXX` when longer than 4, else SHA256 |
 * | DATE_YEAR_MASK | DATE, DATETIME, TIMESTAMP | truncated to 1 January of its year (UTC) |
 * | DEFAULT_MASKING_VALUE | any but STRUCT | the type's default ("" , 0, FALSE, 1970-01-01, []…) |
 * | ALWAYS_NULL | any | NULL of the column's type |
 * | REDACT_MASK_SECRETS (gateway-placed) | STRING | the text with each MASK_SECRET replaced by `FROM_HEX('<redacted>')` |
 *
 * `maskExpression` throws BigQueryError(accessDenied) when a rule does not apply to a column's type,
 * so a misconfigured policy refuses instead of leaking.
 */
import { createHash } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';
import type { BqField } from '../emulator/encode.js';
import type { AppliedMaskRule } from '../policy/index.js';
import { typeSql, quoteIdent as q } from '../sql/index.js';
const sha = (c: string) => `TO_HEX(SHA256(${c}))`;

const DEFAULTS: Record<string, string> = {
  STRING: "''", BYTES: "b''", INTEGER: '0', INT64: '0', FLOAT: '0.0', FLOAT64: '0.0', NUMERIC: "NUMERIC '0'",
  BIGNUMERIC: "BIGNUMERIC '0'", BOOLEAN: 'FALSE', BOOL: 'FALSE', TIMESTAMP: "TIMESTAMP '1970-01-01 00:00:00+00'",
  DATE: "DATE '1970-01-01'", TIME: "TIME '00:00:00'", DATETIME: "DATETIME '1970-01-01 00:00:00'",
  GEOGRAPHY: 'ST_GEOGPOINT(0, 0)',
};

/** Secrets a rewrite needs: the gateway's HMAC key and this query's salt for RANDOM_HASH. */
export interface MaskKeys {
  /** HMAC_SHA256 key (any length; keys over 64 bytes are hashed first, RFC 2104 §2). */
  hmacKey: Buffer;
  /** Per-query salt for RANDOM_HASH. */
  salt: Buffer;
}

/** HMAC-SHA256 as GoogleSQL: H((K0 ⊕ opad) || H((K0 ⊕ ipad) || m)), with the pads as BYTES literals. */
function hmacSql(bytesExpr: string, key: Buffer): string {
  const k0 = Buffer.alloc(64);
  (key.length > 64 ? createHash('sha256').update(key).digest() : key).copy(k0);
  const ipad = Buffer.from(k0.map((b) => b ^ 0x36)).toString('hex');
  const opad = Buffer.from(k0.map((b) => b ^ 0x5c)).toString('hex');
  return `TO_HEX(SHA256(FROM_HEX('${opad}') || SHA256(FROM_HEX('${ipad}') || ${bytesExpr})))`;
}

/**
 * The secret material of a rewrite as it appears in SQL text: the HMAC_SHA256 pads (the gateway's
 * key XOR ipad/opad, from which the key follows) and RANDOM_HASH salts, FROM_HEX literals of 16+
 * bytes. A JavaScript RegExp source that is also RE2 syntax (BigQuery's REGEXP_REPLACE).
 */
export const MASK_SECRET = String.raw`FROM_HEX\('[0-9a-fA-F]{32,}'\)`;

/** The column as BYTES for keyed hashing, or undefined for a type the keyed rules do not take. */
function asBytes(c: string, t: string): string | undefined {
  if (t === 'BYTES') return c;
  if (t === 'STRING') return `CAST(${c} AS BYTES)`;
  if (['INTEGER', 'INT64', 'NUMERIC', 'BIGNUMERIC'].includes(t)) return `CAST(CAST(${c} AS STRING) AS BYTES)`;
  return undefined;
}

/** The expression that replaces column `field` under `rule`, aliased back to the column name. */
export function maskExpression(field: BqField, rule: AppliedMaskRule, table: string, keys?: MaskKeys): string {
  const c = q(field.name);
  const t = field.mode === 'REPEATED' ? 'ARRAY' : field.type;
  const bad = () => new BigQueryError('accessDenied', `Access Denied: masking rule ${rule} cannot apply to ${table}.${field.name} (type ${typeSql(field)}); fix the policy. The query was not run.`);
  let e: string;
  switch (rule) {
    case 'ALWAYS_NULL':
      e = `CAST(NULL AS ${typeSql(field)})`; break;
    case 'SHA256':
      if (t === 'STRING') e = sha(c); else if (t === 'BYTES') e = `SHA256(${c})`; else throw bad();
      break;
    case 'HMAC_SHA256': {
      const b = asBytes(c, t);
      if (!b || !keys) throw bad();
      e = hmacSql(b, keys.hmacKey);
      break;
    }
    case 'RANDOM_HASH': {
      const b = asBytes(c, t);
      if (!b || !keys) throw bad();
      e = `TO_HEX(SHA256(FROM_HEX('${keys.salt.toString('hex')}') || ${b}))`;
      break;
    }
    case 'EMAIL_MASK':
      if (t !== 'STRING') throw bad();
      e = `IF(REGEXP_CONTAINS(${c}, r'^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'), CONCAT('XXXXX', REGEXP_EXTRACT(${c}, r'(@[^@\\s]+)$')), ${sha(c)})`;
      break;
    case 'LAST_FOUR_CHARACTERS':
      if (t !== 'STRING') throw bad();
      e = `IF(CHAR_LENGTH(${c}) > 4, CONCAT('XXXXX', SUBSTR(${c}, -4)), ${sha(c)})`;
      break;
    case 'FIRST_FOUR_CHARACTERS':
      if (t !== 'STRING') throw bad();
      e = `IF(CHAR_LENGTH(${c}) > 4, CONCAT(SUBSTR(${c}, 1, 4), 'XXXXX'), ${sha(c)})`;
      break;
    case 'DATE_YEAR_MASK':
      if (t === 'DATE') e = `CAST(DATE_TRUNC(${c}, YEAR) AS DATE)`;
      else if (t === 'DATETIME') e = `DATETIME_TRUNC(${c}, YEAR)`;
      else if (t === 'TIMESTAMP') e = `TIMESTAMP_TRUNC(${c}, YEAR, 'UTC')`;
      else throw bad();
      break;
    case 'REDACT_MASK_SECRETS':
      if (t !== 'STRING') throw bad();
      e = `REGEXP_REPLACE(${c}, r"${MASK_SECRET}", "FROM_HEX('<redacted>')")`;
      break;
    case 'DEFAULT_MASKING_VALUE':
      if (t === 'ARRAY') e = `IF(${c} IS NULL, NULL, CAST([] AS ${typeSql(field)}))`;
      else if (DEFAULTS[t]) e = `IF(${c} IS NULL, NULL, ${DEFAULTS[t]})`;
      else if (t === 'JSON') e = `CAST(NULL AS JSON)`;
      else throw bad();
      break;
    default:
      throw bad();
  }
  return `${e} AS ${c}`;
}

/** A column the caller may never see, kept in the projection as a typed NULL so names still resolve. */
export function nullColumn(field: BqField): string {
  return `CAST(NULL AS ${typeSql(field)}) AS ${q(field.name)}`;
}

