/**
 * The INFORMATION_SCHEMA row filter of a principal (pipeline/infoschema-filter.ts, issue 20) with
 * the real demo policy: the filter is computed, then run on the real embedded emulator's catalog is
 * future work; here the allowed set and predicate are checked against the policy's rules.
 */
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { loadPolicy } from '../src/policy/index.ts';
import { informationSchemaFilter, regionFilter, visibleTables } from '../src/pipeline/infoschema-filter.ts';
import { ownJobs, refuseJobsViews } from '../src/pipeline/jobs-views.ts';

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

  it('a region-level view ORs the datasets with anything visible; per-dataset views keep a readable dataset whole', () => {
    const byDataset = { shop: { customers: ['email'] }, hr_private: {} };
    expect(regionFilter('tables', byDataset)).toBe("(table_schema = 'shop' AND (table_name IN ('customers')))");
    expect(regionFilter('SCHEMATA', byDataset)).toBe("schema_name = 'shop'");
    expect(regionFilter('ROUTINES', byDataset)).toBe("routine_schema = 'shop'");
    expect(regionFilter('COLUMNS', byDataset)).toBe("(table_schema = 'shop' AND ((table_name = 'customers' AND column_name IN ('email'))))");
    expect(regionFilter('SCHEMATA', { hr_private: {} })).toBe('FALSE');
    expect(regionFilter('TABLES', {})).toBe('FALSE');
  });

  it('JOBS keeps the caller\'s own jobs and their scripts\' children, their SQL NULL; none is FALSE', () => {
    const j = ownJobs(['bqgate_1', "x'y"]);
    expect(j.filter).toBe("job_id IN ('bqgate_1', 'x\\'y') OR parent_job_id IN ('bqgate_1', 'x\\'y')");
    expect(j.hidden).toEqual(expect.arrayContaining(['query', 'error_result', 'referenced_tables']));
    expect(ownJobs([]).filter).toBe('FALSE');
  });

  it('JOBS views the gateway cannot scope stay for administrators', () => {
    const reads = (t: string) => ({ tablesRead: [t], tablesWritten: [] });
    for (const t of ['demo-project.region-us.INFORMATION_SCHEMA.JOBS_BY_ORGANIZATION', 'demo-project.region-us.INFORMATION_SCHEMA.JOBS_BY_FOLDER', 'demo-project.region-us.INFORMATION_SCHEMA.JOBS_TIMELINE', 'demo-project.shop.INFORMATION_SCHEMA.JOBS']) {
      expect(() => refuseJobsViews(reads(t), false), t).toThrow(/only a gateway administrator/);
      expect(() => refuseJobsViews(reads(t), true)).not.toThrow();
    }
    for (const t of ['demo-project.region-us.INFORMATION_SCHEMA.JOBS', 'p.REGION-EU.information_schema.jobs_by_user', 'p.region-us.INFORMATION_SCHEMA.JOBS_BY_PROJECT']) {
      expect(() => refuseJobsViews(reads(t), false, [t]), t).not.toThrow(); // filtered to the caller's jobs
      expect(() => refuseJobsViews(reads(t), false), t).toThrow(/only a gateway administrator/); // read unfiltered
      expect(() => refuseJobsViews(reads(t), false, ['demo-project.region-us.INFORMATION_SCHEMA.JOBS_BY_FOLDER']), t).toThrow();
    }
  });
});
