/**
 * The emulator's idle DuckDB connections and the prepared statements each made (issue 20: "DuckDB
 * prepared statements reused"), so a statement run again skips DuckDB's parse, bind and plan.
 *
 * - A connection is lent to one statement at a time: `acquire` takes it out of the pool and
 *   `release` puts it back, so two requests never bind or run one prepared statement at once
 *   (a DuckDBPreparedStatement holds its bound values).
 * - Connections are pooled per search path (`USE` target, or none): a statement that needs none
 *   never gets one another statement moved; the caller still runs its `USE` each time, as before,
 *   so a dropped dataset fails as it did. Prepared statements are keyed by DuckDB text within a
 *   connection, so by (search path, text).
 * - `release(lent, false)` closes the connection: after an error or an interrupt (a cancelled
 *   statement's connection is never lent again — a pool that kept them made the next statement
 *   wait for the interrupted join, test/emulator-security.test.ts).
 * - Bounded: at most `maxIdle` idle connections per search path and `maxPrepared` statements per
 *   connection, least recently used destroyed first.
 * DuckDB rebinds a prepared statement whose tables or views changed since it was prepared
 * (checked here with CREATE OR REPLACE VIEW and DROP/CREATE TABLE); `prepared` clears the previous
 * request's bindings before handing a statement out again.
 * Source: https://duckdb.org/docs/stable/clients/node_neo/overview#prepared-statements
 */
import type { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement } from '@duckdb/node-api';

/** A connection lent to one statement, with the prepared statements it keeps. */
export class LentConnection {
  private readonly statements = new Map<string, DuckDBPreparedStatement>();
  constructor(readonly connection: DuckDBConnection, readonly searchPath: string, private readonly maxPrepared: number) {}

  /** `text` prepared on this connection, reused when prepared before (its bindings cleared). */
  async prepared(text: string): Promise<DuckDBPreparedStatement> {
    const hit = this.statements.get(text);
    if (hit) {
      this.statements.delete(text); // LRU: to the back
      this.statements.set(text, hit);
      hit.clearBindings();
      return hit;
    }
    const ps = await this.connection.prepare(text);
    this.statements.set(text, ps);
    if (this.statements.size > this.maxPrepared) {
      const [oldest, old] = this.statements.entries().next().value as [string, DuckDBPreparedStatement];
      this.statements.delete(oldest);
      old.destroySync();
    }
    return ps;
  }

  close(): void {
    for (const ps of this.statements.values()) ps.destroySync();
    this.statements.clear();
    this.connection.closeSync();
  }
}

export class ConnectionPool {
  private readonly idle = new Map<string, LentConnection[]>();
  constructor(private readonly db: DuckDBInstance, private readonly maxIdle = 4, private readonly maxPrepared = 64) {}

  /** An idle connection last used with `searchPath` (the `USE` target, '' for none), or a new one. */
  async acquire(searchPath: string): Promise<LentConnection> {
    return this.idle.get(searchPath)?.pop() ?? new LentConnection(await this.db.connect(), searchPath, this.maxPrepared);
  }

  /** Back to the pool when `reusable` (the statement ended without error or interrupt) and there is room; else closed. */
  release(lent: LentConnection, reusable: boolean): void {
    const list = this.idle.get(lent.searchPath) ?? this.idle.set(lent.searchPath, []).get(lent.searchPath)!;
    if (reusable && list.length < this.maxIdle) list.push(lent);
    else lent.close();
  }
}
