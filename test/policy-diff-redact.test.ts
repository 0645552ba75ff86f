/**
 * The literal-free example text of `bqgate policy diff` (src/policy/diff/redact.ts) on the canonical
 * forms sql/canonical.ts writes: every literal becomes `?`, identifiers (backquoted ones with quotes
 * and digits inside included), parameters and keywords stay.
 */
import { describe, expect, it } from 'vitest';
import { redactLiterals, redactMessage } from '../src/policy/diff/index.ts';

describe('redactLiterals', () => {
  it.each([
    ["SELECT a FROM t WHERE email = 'alice@example.com'", 'SELECT a FROM t WHERE email = ?', 1],
    ["SELECT 'it\\'s \\\\ 123-45-6789' AS x", 'SELECT ? AS x', 1],
    ["SELECT b'\\x01\\x02', B'ab', rb'\\d'", 'SELECT ?, ?, ?', 3],
    ['SELECT 1, 2.5, .5, 1e10, 0x1F, t1.c2 FROM d.t1', 'SELECT ?, ?, ?, ?, ?, t1.c2 FROM d.t1', 5],
    ["SELECT DATE '2020-01-01', NUMERIC '1.5', JSON '{\"ssn\": \"123-45-6789\"}'", 'SELECT DATE ?, NUMERIC ?, JSON ?', 3],
    ["SELECT `we'ird 123` FROM `p-1.d.t` WHERE x = @p1 AND y IS NULL AND z = TRUE", "SELECT `we'ird 123` FROM `p-1.d.t` WHERE x = @p1 AND y IS NULL AND z = TRUE", 0],
    ['SELECT `a\\`b` FROM events_20261101 LIMIT 10', 'SELECT `a\\`b` FROM events_20261101 LIMIT ?', 1],
  ])('%s', (sql, text, literals) => {
    expect(redactLiterals(sql)).toEqual({ text, literals });
  });
});

describe('redactMessage', () => {
  it('drops quoted runs and numbers but keeps the position', () => {
    expect(redactMessage('Could not cast literal "123-45-6789" to type DATE [at 1:8]')).toBe('Could not cast literal ? to type DATE [at 1:8]');
    expect(redactMessage("No matching signature for 'alice@example.com' 4111111111111111")).toBe('No matching signature for ? ?');
    expect(redactMessage('Not found: Table demo-project:shop.events_20261101 was not found')).toBe('Not found: Table demo-project:shop.events_20261101 was not found');
  });
});
