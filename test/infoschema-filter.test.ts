/**
 * The INFORMATION_SCHEMA row filter of a principal (pipeline/infoschema-filter.ts, issue 20) with
 * the real demo policy: the filter is computed, then run on the real embedded emulator's catalog is
 * future work; here the allowed set and predicate are checked against the policy's rules.
 */
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { loadPolicy } from '../src/policy/index.ts';
import { informationSchemaFilter, visibleTables } from '../src/pipeline/infoschema-filter.ts';

const policy = loadPolicy(resolve(import.meta.dirname, '..', 'policies'));
const analyst = { subject: 'a', groups: ['analysts'], issuer: 'test' } as any;
const nobody = { subject: 'n', groups: ['nobody'], issuer: 'test' } as any;
const SSN = { names: ['projects/demo-project/locations/us/taxonomies/1001/policyTags/ssn'] };
const tables = {
  customers: [{ name: 'email', type: 'STRING' }, { name: 'ssn', type: 'STRING', policyTags: SSN }, { name: 'city', type: 'STRING' }],
  "o'rders": [{ name: 'id', type: 'INT64' }],
} as any;

describe('INFORMATION_SCHEMA filter per principal', () => {
  it('an analyst sees its tables; the denied ssn column is absent, the masked email present', () => {
    const v = visibleTables(policy, analyst, 'demo-project.shop', tables);
    console.log(JSON.stringify(v));
    expect(v).toEqual({ customers: ['email', 'city'], "o'rders": ['id'] });
    const cols = informationSchemaFilter('columns', v);
    console.log(cols);
    expect(cols).not.toContain('ssn');
    expect(cols).toContain("'o\\'rders'");
    expect(informationSchemaFilter('TABLES', v)).toBe("table_name IN ('customers', 'o\\'rders')");
  });

  it('tables outside the rules are absent; nothing visible is FALSE, never unfiltered', () => {
    expect(visibleTables(policy, analyst, 'demo-project.hr', tables)).toEqual({});
    const v = visibleTables(policy, nobody, 'demo-project.shop', tables);
    expect(v).toEqual({});
    expect(informationSchemaFilter('TABLES', v)).toBe('FALSE');
    expect(informationSchemaFilter('COLUMN_FIELD_PATHS', v)).toBe('FALSE');
  });
});
