/**
 * A script's multi-statement transaction on DuckDB (https://cloud.google.com/bigquery/docs/transactions):
 * BEGIN TRANSACTION opens one DuckDB connection and transaction; every statement of the script runs
 * on it until COMMIT TRANSACTION (its changes applied at once) or ROLLBACK TRANSACTION (abandoned).
 * Transactions do not nest. As in BigQuery, the script ending with the transaction open rolls it back,
 * and so does a failing statement with no exception handler. A failing statement with a handler: DuckDB
 * aborts its transaction at the first error, so the emulator rolls it back then; in the handler,
 * ROLLBACK TRANSACTION ends it as BigQuery's would, and COMMIT TRANSACTION is refused, saying why
 * (BigQuery could commit the statements before the failure; the emulator cannot).
 *
 * Inside a transaction only queries and DML run (BigQuery also allows temp tables and temp functions
 * there; the emulator's temp tables live outside DuckDB's transaction, so it refuses them, naming why).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { BigQueryError } from '../bigquery/errors.js';
import type { Engine } from './engine.js';

const IN_TRANSACTION = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** The script's transaction state: none, open, or rolled back by a failed statement (awaiting the handler's ROLLBACK). */
export class ScriptTransaction {
  private open?: { connection: DuckDBConnection; written: Set<string> };
  private abortedBy?: string;

  constructor(private readonly engine: Engine) {}

  /** What a statement runs on (engine RunOptions.transaction); throws notImplemented for a statement kind the emulator keeps out of transactions. */
  forStatement(statementType: string): { connection: DuckDBConnection; written: Set<string> } | undefined {
    if (this.open && !IN_TRANSACTION.has(statementType)) {
      throw new BigQueryError('notImplemented', `The emulator runs only queries and DML (INSERT, UPDATE, DELETE, MERGE) inside a transaction, not ${statementType}; run it before BEGIN TRANSACTION or after COMMIT.`);
    }
    return this.open;
  }

  /** BEGIN / COMMIT / ROLLBACK TRANSACTION. Throws invalidQuery when the statement does not fit the state. */
  async control(op: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): Promise<void> {
    if (op === 'BEGIN') {
      if (this.open) throw new BigQueryError('invalidQuery', 'Transaction cannot be nested: a transaction is already active.', { location: 'query' });
      const connection = await this.engine.connect();
      await connection.run('BEGIN TRANSACTION');
      this.open = { connection, written: new Set() };
      this.abortedBy = undefined;
      return;
    }
    if (!this.open) {
      if (this.abortedBy && op === 'ROLLBACK') { this.abortedBy = undefined; return; }
      if (this.abortedBy) throw new BigQueryError('invalidQuery', `The emulator rolled the transaction back when a statement failed (${this.abortedBy}); it cannot commit the statements before the failure. Use ROLLBACK TRANSACTION in the handler.`, { location: 'query' });
      throw new BigQueryError('invalidQuery', `${op} TRANSACTION without an active transaction.`, { location: 'query' });
    }
    await this.end(op);
  }

  /** A statement failed: an open transaction is rolled back (see the module comment). */
  async failed(err: Error): Promise<void> {
    if (!this.open) return;
    await this.end('ROLLBACK');
    this.abortedBy = err.message.slice(0, 200);
  }

  /** The script ended (or failed): an open transaction is rolled back, as BigQuery does. */
  async close(): Promise<void> {
    if (this.open) await this.end('ROLLBACK');
  }

  private async end(op: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    const t = this.open!;
    this.open = undefined;
    try {
      await t.connection.run(op);
    } catch (err) {
      if (op === 'COMMIT') throw new BigQueryError('invalidQuery', `Transaction aborted at COMMIT: ${(err as Error).message}`, { location: 'query' });
    } finally {
      t.connection.closeSync();
      await this.engine.afterTransaction(t.written);
    }
  }
}
