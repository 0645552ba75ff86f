/** Opening the gateway's SQLite files (better-sqlite3) the same way everywhere. */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Opens (creating) `<dataDir>/<file>` in WAL mode with a 5 s busy timeout, so the CLI and tests
 * read while the gateway writes. `synchronous`: FULL fsyncs every commit; NORMAL survives a crash
 * of the process but not of the machine (https://www.sqlite.org/pragma.html#pragma_synchronous).
 */
export function openSqlite(dataDir: string, file: string, synchronous: 'FULL' | 'NORMAL'): Database.Database {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, file));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  return db;
}
