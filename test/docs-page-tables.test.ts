/**
 * The docs cases' page tables (scripts/docs-cases/page-tables.ts): an example that reads a table its
 * page defines elsewhere gets that definition as a leading CTE — the nearest one before it, else the
 * first after it (an appendix) — and nothing else is changed.
 */
import { describe, expect, it } from 'vitest';
import { pageTables, withPageTables } from '../scripts/docs-cases/page-tables.ts';

const md = [
  '```zetasql', "WITH Produce AS (SELECT 'kale' AS item, 1 AS n) SELECT * FROM Produce", '/*--+ … */', '```', // line 1
  'prose',
  '```zetasql', 'CREATE OR REPLACE TABLE Produce AS (', "  SELECT 'apple' AS item, 2 AS n", ');', 'SELECT * FROM Produce;', '```', // line 6
  '```zetasql', 'SELECT item FROM Produce JOIN Roster USING (item)', '```', // line 12: an example, not a definition
  '```zetasql', "WITH Roster AS (SELECT 'kale' AS item, ')' AS s) SELECT * FROM Roster", '```', // line 15: the appendix
].join('\n');

describe('page tables of the docs cases', () => {
  const defs = pageTables(md);

  it('finds WITH … SELECT * and CREATE TABLE … AS definitions, not examples', () => {
    expect(defs.map((d) => [d.name, d.line])).toEqual([['Produce', 1], ['Produce', 6], ['Roster', 15]]);
    expect(defs[2].body).toBe("SELECT 'kale' AS item, ')' AS s");
  });

  it('prepends the nearest earlier definition, else the first later one', () => {
    expect(withPageTables('SELECT item FROM Produce', defs, 5)).toEqual({ sql: "WITH Produce AS (SELECT 'kale' AS item, 1 AS n)\nSELECT item FROM Produce", added: ['Produce'] });
    expect(withPageTables('SELECT item FROM produce', defs, 13).sql).toContain("'apple'");
    const j = withPageTables('SELECT * FROM Produce AS p JOIN Roster AS r USING (item)', defs, 13);
    expect(j.added).toEqual(['Produce', 'Roster']);
    expect(j.sql).toContain("Roster AS (SELECT 'kale' AS item, ')' AS s)");
  });

  it('merges into an existing WITH and leaves defined names, strings and comments alone', () => {
    expect(withPageTables('WITH x AS (SELECT 1) SELECT * FROM x, Produce', defs, 13).sql).toMatch(/^WITH Produce AS \(.*\), x AS \(SELECT 1\) SELECT/s);
    expect(withPageTables('WITH Produce AS (SELECT 1 AS n) SELECT n FROM Produce', defs, 13).added).toEqual([]);
    expect(withPageTables("SELECT 'FROM Produce' -- FROM Roster", defs, 13).added).toEqual([]);
  });
});
