/**
 * The plain-data halves of the REST surface, without a gateway: the method catalogue's matching,
 * a query job's destinationTable as the write statements it equals, and which schema changes
 * touch policy tags (GRANT). The same functions run inside the gateway (test/rest-methods.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { matchMethod } from '../src/doors/bigquery/methods/index.ts';
import { changesPolicyTags, checkFields, routineVerb } from '../src/doors/bigquery/methods/statements.ts';
import { destinationName, destinationUnits } from '../src/pipeline/destination.ts';
import { decideStatement, loadPolicy } from '../src/policy/index.ts';
import { resolve } from 'node:path';

describe('matchMethod', () => {
  it('names the method and its path parts, with or without /bigquery/v2, for colon methods too', () => {
    expect(matchMethod('DELETE', '/bigquery/v2/projects/p/datasets/d/tables/t')).toEqual({ id: 'tables.delete', params: { projectId: 'p', datasetId: 'd', tableId: 't' } });
    expect(matchMethod('POST', '/projects/p/datasets/d/tables/t:setIamPolicy?x=1')).toEqual({ id: 'tables.setIamPolicy', params: { projectId: 'p', datasetId: 'd', tableId: 't' } });
    expect(matchMethod('DELETE', '/projects/p/datasets/d/tables/t/rowAccessPolicies/r%20a')?.params.policyId).toBe('r a');
    expect(matchMethod('POST', '/projects/p/datasets/d:undelete')?.id).toBe('datasets.undelete');
  });
  it('a known path under another verb is reported as such; an unknown path is undefined', () => {
    expect(matchMethod('PATCH', '/projects/p/jobs/j')).toMatchObject({ id: 'jobs.get', wrongVerb: true });
    expect(matchMethod('GET', '/projects/p/nothing')).toBeUndefined();
    expect(matchMethod('GET', '/projects/p/datasets/%E0%A4%A')).toBeUndefined(); // malformed escape
  });
});

describe('destinationTable as statements', () => {
  const q = { statementKind: 'SELECT', tablesRead: ['p.s.src'], columnsRead: [{ table: 'p.s.src', column: 'a' }], tables: {} };
  it('CTAS when the table is missing, INSERT to append or fill an empty table, TRUNCATE+INSERT to replace', () => {
    const kinds = (exists: boolean, d: Record<string, string>) => destinationUnits(q, 'p.o.t', exists, d).map((u) => u.statementKind).join('+');
    expect(kinds(false, {})).toBe('CREATE_TABLE_AS_SELECT');
    expect(kinds(true, {})).toBe('INSERT');
    expect(kinds(true, { writeDisposition: 'WRITE_APPEND' })).toBe('INSERT');
    expect(kinds(true, { writeDisposition: 'WRITE_TRUNCATE' })).toBe('TRUNCATE+INSERT');
    for (const u of destinationUnits(q, 'p.o.t', true, { writeDisposition: 'WRITE_TRUNCATE' })) expect(u).toMatchObject({ tablesRead: ['p.s.src'], tablesWritten: ['p.o.t'] });
  });
  it('refuses bad dispositions, CREATE_NEVER of a missing table, DML with a destination, and bad names', () => {
    expect(() => destinationUnits(q, 'p.o.t', true, { writeDisposition: 'WRITE_SOMETIMES' })).toThrow(/writeDisposition/);
    expect(() => destinationUnits(q, 'p.o.t', false, { createDisposition: 'CREATE_NEVER' })).toThrow(/CREATE_NEVER/);
    expect(() => destinationUnits({ ...q, statementKind: 'DELETE' }, 'p.o.t', true, {})).toThrow(/only for queries/);
    expect(destinationName({ datasetId: 'o', tableId: 't' }, 'p')).toBe('p.o.t');
    expect(() => destinationName({ datasetId: 'o`; DROP', tableId: 't' }, 'p')).toThrow(/destinationTable/);
  });
  it('under the demo policy an analyst may not write query results anywhere; TRUNCATE is decided too', () => {
    const policy = loadPolicy(resolve(import.meta.dirname, '..', 'policies'));
    const analyst = { subject: 'a', issuer: 'i', groups: ['analysts'] } as never;
    const read = { statementKind: 'SELECT', tablesRead: ['demo-project.shop.orders'], columnsRead: [{ table: 'demo-project.shop.orders', column: 'order_id' }], tables: {} };
    const units = destinationUnits(read, 'demo-project.shop.copy', true, { writeDisposition: 'WRITE_TRUNCATE' });
    const d = decideStatement(policy, analyst, { ...read, tablesWritten: [], units: [{ ...read, tablesWritten: [] }, ...units] });
    console.log('analyst TRUNCATE+INSERT decision:', d.effect, d.reasons[0]);
    expect(d.effect).toBe('deny');
    expect(d.reasons[0]).toMatch(/analysts-no-writes denies TRUNCATE/);
  });
});

describe('schema changes and fields', () => {
  const tagged = [{ name: 'ssn', type: 'STRING', policyTags: { names: ['t/ssn'] } }, { name: 'rec', type: 'RECORD', fields: [{ name: 'card', type: 'STRING', policyTags: { names: ['t/card'] } }] }];
  it('finds removed, changed and nested tag changes; a new untagged column is none', () => {
    expect(changesPolicyTags(tagged, [...tagged, { name: 'extra', type: 'STRING' }])).toEqual([]);
    expect(changesPolicyTags(tagged, [{ name: 'ssn', type: 'STRING' }, tagged[1]])).toEqual(['ssn']);
    expect(changesPolicyTags(tagged, [tagged[0], { name: 'rec', type: 'RECORD', fields: [{ name: 'card', type: 'STRING', policyTags: { names: ['t/other'] } }] }])).toEqual(['rec.card']);
    expect(changesPolicyTags(tagged, [])).toEqual(['ssn', 'rec.card']);
  });
  it('drops empty placeholders of ungoverned fields, refuses ones with a value, checks nested schema keys', () => {
    expect(checkFields('tables.patch', 'table', { description: 'd', resourceTags: {} })).toEqual({ description: 'd' });
    expect(() => checkFields('tables.patch', 'table', { encryptionConfiguration: { kmsKeyName: 'k' } })).toThrow(/encryptionConfiguration/);
    expect(() => checkFields('tables.insert', 'table', { schema: { fields: [{ name: 'a', type: 'STRING', foreignTypeDefinition: 'x' }] } })).toThrow(/schema.fields\[\]\.foreignTypeDefinition/);
    expect(() => checkFields('datasets.insert', 'dataset', { externalDatasetReference: { connection: 'c' } })).toThrow(/externalDatasetReference/);
  });
  it('routine types map to the DDL verbs', () => {
    expect(['SCALAR_FUNCTION', 'AGGREGATE_FUNCTION', 'TABLE_VALUED_FUNCTION', 'PROCEDURE'].map(routineVerb)).toEqual(['CREATE_FUNCTION', 'CREATE_FUNCTION', 'CREATE_TABLE_FUNCTION', 'CREATE_PROCEDURE']);
    expect(() => routineVerb('MACRO')).toThrow(/routineType/);
  });
});
