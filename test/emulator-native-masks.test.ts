/**
 * The emulator's native masks (src/emulator/native-masks.ts) are byte-identical to the translated
 * GoogleSQL spellings they replace: every masking rule the gateway writes (src/rewrite/masks.ts),
 * over edge values (NULL, empty, short, multibyte, blanks, several `@`), run by the real engine with
 * native masks off and on. The keyed hashes are also checked against node:crypto's HMAC-SHA256 and
 * SHA-256, so both paths are right and not merely equal.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Engine } from '../src/emulator/engine.ts';
import { toDuckDb } from '../src/emulator/translate.ts';
import { nativeMasks } from '../src/emulator/native-masks.ts';
import { maskExpression, type MaskKeys } from '../src/rewrite/masks.ts';
import type { MaskRule } from '../src/policy/index.ts';

let engine: Engine;
beforeAll(async () => { engine = await Engine.open(resolve('fixtures')); });

const ctx = { projectId: 'demo-project' };
const keys: MaskKeys = { hmacKey: randomBytes(32), salt: randomBytes(16) };
const STRINGS = ['abc', 'a\\x41', 'aA', '', 'abcd', 'abcde', 'jane.doe@example.com', 'ü@x.yz', 'a b@c.de', 'a@b@c.de', ' @x.y', 'a@b', 'x\n@y.zz', 'üöäß@例え.jp', 'no-at-sign', '日本語テキスト', 'a@b.c\t'];
const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\t/g, '\\t')}'`;
/** Rows (o, c) as a UNION ALL of literals: `c` of `type`, the last one NULL. */
const values = (type: string, xs: string[]) => `FROM (${[...xs, 'NULL'].map((x, i) => `SELECT ${i} AS o, CAST(${x} AS ${type}) AS \`c\``).join(' UNION ALL ')})`;
const FROM = values('STRING', STRINGS.map(lit));

/** Rows of `sql` with native masks `on`, as comparable JSON. */
async function rows(sql: string, on: boolean): Promise<string> {
  engine.nativeMasks = on;
  try {
    const r = await engine.run(sql, ctx);
    return JSON.stringify(r.rows, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
  } finally { engine.nativeMasks = true; }
}

const STRING_RULES: MaskRule[] = ['SHA256', 'HMAC_SHA256', 'RANDOM_HASH', 'EMAIL_MASK', 'FIRST_FOUR_CHARACTERS', 'LAST_FOUR_CHARACTERS', 'DEFAULT_MASKING_VALUE', 'ALWAYS_NULL'];

describe('emulator native masks', () => {
  for (const rule of STRING_RULES) {
    it(`${rule} on STRING: native and translated results are identical`, async () => {
      const sql = `SELECT o, ${maskExpression({ name: 'c', type: 'STRING' }, rule, 't', keys)} ${FROM} ORDER BY o`;
      const off = await rows(sql, false);
      const on = await rows(sql, true);
      console.log(`${rule}: ${JSON.parse(on).length} rows; native text: ${nativeMasks(toDuckDb(sql)[0]).length} chars vs translated ${toDuckDb(sql)[0].length}`);
      expect(on).toBe(off);
    });
  }

  it('the hashing rules take the native path (no hex round trip is left) and agree with node:crypto', async () => {
    for (const rule of ['SHA256', 'HMAC_SHA256', 'RANDOM_HASH', 'EMAIL_MASK'] as const) {
      const duck = nativeMasks(toDuckDb(`SELECT ${maskExpression({ name: 'c', type: 'STRING' }, rule, 't', keys)} ${FROM}`)[0]);
      expect(duck, rule).not.toMatch(/HEX\(UNHEX/i);
      if (rule === 'EMAIL_MASK') expect(duck).not.toMatch(/REGEXP_EXTRACT/i);
    }
    const sql = `SELECT c, ${['SHA256', 'HMAC_SHA256', 'RANDOM_HASH'].map((r, i) => maskExpression({ name: 'c', type: 'STRING' }, r as MaskRule, 't', keys).replace(/ AS `c`$/, ` AS m${i}`)).join(', ')} ${FROM} ORDER BY o`;
    engine.nativeMasks = true;
    const got = (await engine.run(sql, ctx)).rows;
    expect(got.length).toBe(STRINGS.length + 1);
    for (const [c, sha, hmac, random] of got) {
      if (c === null) { expect([sha, hmac, random]).toEqual([null, null, null]); continue; }
      const v = Buffer.from(String(c), 'utf8');
      expect(sha).toBe(createHash('sha256').update(v).digest('hex'));
      expect(hmac).toBe(createHmac('sha256', keys.hmacKey).update(v).digest('hex'));
      expect(random).toBe(createHash('sha256').update(Buffer.concat([keys.salt, v])).digest('hex'));
    }
  });

  it('EMAIL_MASK keeps the domain of valid addresses (multibyte included) and hashes the rest, as before', async () => {
    const sql = `SELECT c, ${maskExpression({ name: 'c', type: 'STRING' }, 'EMAIL_MASK', 't', keys)} ${FROM} ORDER BY o`;
    engine.nativeMasks = true;
    const got = new Map((await engine.run(sql, ctx)).rows.map(([c, m]) => [c, m]));
    expect(got.get('üöäß@例え.jp')).toBe('XXXXX@例え.jp');
    expect(got.get('jane.doe@example.com')).toBe('XXXXX@example.com');
    for (const bad of ['a b@c.de', 'a@b@c.de', 'a@b', 'no-at-sign']) expect(got.get(bad)).toBe(createHash('sha256').update(bad).digest('hex'));
  });

  it('BYTES and INT64 columns: SHA256, HMAC_SHA256 and RANDOM_HASH are identical native and translated', async () => {
    for (const [type, from] of [['BYTES', values('BYTES', ["FROM_HEX('')", "FROM_HEX('00ff')", "FROM_HEX('616263646566')"])], ['INT64', values('INT64', ['0', '-1', '9223372036854775807'])]] as const) {
      for (const rule of (type === 'BYTES' ? ['SHA256', 'HMAC_SHA256', 'RANDOM_HASH'] : ['HMAC_SHA256', 'RANDOM_HASH']) as MaskRule[]) {
        const sql = `SELECT o, ${maskExpression({ name: 'c', type }, rule, 't', keys)} ${from} ORDER BY o`;
        expect(await rows(sql, true), `${rule} ${type}`).toBe(await rows(sql, false));
      }
    }
  });

  it('the spellings inside string literals are left alone', () => {
    const text = "SELECT 'LOWER(HEX(UNHEX(SHA256(x))))' AS s, LOWER(HEX(UNHEX(SHA256(\"c\")))) AS h";
    expect(nativeMasks(text)).toBe("SELECT 'LOWER(HEX(UNHEX(SHA256(x))))' AS s, SHA256(\"c\") AS h");
  });

  it('the masked customers query returns the same rows native and translated, every row', async () => {
    const items = ([['full_name', 'SHA256'], ['email', 'EMAIL_MASK'], ['phone', 'HMAC_SHA256'], ['card_number', 'LAST_FOUR_CHARACTERS'], ['city', 'FIRST_FOUR_CHARACTERS'], ['country', 'RANDOM_HASH']] as const)
      .map(([name, rule]) => maskExpression({ name, type: 'STRING' }, rule as MaskRule, 'demo-project.shop.customers', keys));
    const sql = `SELECT * FROM (SELECT customer_id, ${items.join(', ')}, ${maskExpression({ name: 'birth_date', type: 'DATE' }, 'DATE_YEAR_MASK', 't', keys)} FROM \`demo-project.shop.customers\`) ORDER BY customer_id`;
    const on = await rows(sql, true);
    const count = Number((await engine.run('SELECT COUNT(*) FROM `demo-project.shop.customers`', ctx)).rows[0][0]);
    console.log(`masked customers: ${JSON.parse(on).length} rows of ${count}`);
    expect(JSON.parse(on).length).toBe(count);
    expect(on).toBe(await rows(sql, false));
  });
});

describe('emulator translation fixes around polyglot (polyglot-fixes.ts)', () => {
  it('REGEXP_CONTAINS is a partial match, as BigQuery documents', async () => {
    // https://cloud.google.com/bigquery/docs/reference/standard-sql/string_functions#regexp_contains
    const r = await engine.run("SELECT REGEXP_CONTAINS('abc', 'b') AS partial, REGEXP_CONTAINS('abc', '^b') AS anchored, REGEXP_CONTAINS('abc', '^abc$') AS whole", ctx);
    expect(r.rows[0]).toEqual([true, false, true]);
  });

  it('CAST(STRING AS BYTES) is the UTF-8 encoding: non-ASCII text and backslashes are bytes as written', async () => {
    // https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions#cast_bytes
    const r = await engine.run("SELECT TO_HEX(CAST('日本' AS BYTES)) AS cjk, TO_HEX(CAST('a\\\\x41' AS BYTES)) AS backslash, TO_HEX(CAST(FROM_HEX('00ff') AS BYTES)) AS bytes", ctx);
    expect(r.rows[0]).toEqual([Buffer.from('日本').toString('hex'), Buffer.from('a\\x41').toString('hex'), '00ff']);
  });
});
