import { describe, expect, it } from 'vitest';
import { redact, luhn, backstop } from '../src/deliver/index.ts';

describe('content detectors', () => {
  it('finds Luhn-valid card numbers only', () => {
    expect(luhn('4111111111111111')).toBe(true);
    expect(luhn('4111111111111112')).toBe(false);
    expect(redact('paid with 4111 1111 1111 1111 today')).toEqual({ text: 'paid with XXXXX1111 today', found: ['card'] });
    expect(redact('order 4111111111111112').found).toEqual([]);
  });

  it('finds SSNs, emails and IBANs, and leaves masked values and look-alikes alone', () => {
    expect(redact('ssn 123-45-6789').text).toBe('ssn XXXXX6789');
    expect(redact('ssn 000-45-6789').found).toEqual([]);
    expect(redact('mail alice.smith@example.com now')).toEqual({ text: 'mail XXXXX@example.com now', found: ['email'] });
    expect(redact('XXXXX@example.com').found).toEqual([]);
    expect(redact('GB82WEST12345698765432').text).toBe('XXXXX5432');
    expect(redact('GB82WEST12345698765431').found).toEqual([]);
    expect(redact('+16965534734').found).toEqual([]);
  });

  it('scans only STRING leaves of the chosen columns, through REPEATED and RECORD', () => {
    const fields = [
      { name: 'ts', type: 'TIMESTAMP' }, { name: 'note', type: 'STRING' },
      { name: 'tags', type: 'STRING', mode: 'REPEATED' }, { name: 'r', type: 'RECORD', fields: [{ name: 'a', type: 'STRING' }, { name: 'n', type: 'INTEGER' }] },
    ];
    const rows = [{ f: [{ v: '4111111111111111' }, { v: 'x 4111111111111111' }, { v: [{ v: 'bob@example.com' }] }, { v: { f: [{ v: '123-45-6789' }, { v: '4111111111111111' }] } }] }];
    const out = backstop(rows, fields, [0, 1, 2, 3]);
    expect(out.rows![0].f.map((c: any) => c.v)).toEqual(['4111111111111111', 'x XXXXX1111', [{ v: 'XXXXX@example.com' }], { f: [{ v: 'XXXXX6789' }, { v: '4111111111111111' }] }]);
    expect(out.detections).toEqual({ card: 1, email: 1, ssn: 1 });
    expect(backstop(rows, fields, [0]).detections).toEqual({});
  });
});
