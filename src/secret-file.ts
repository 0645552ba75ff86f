/**
 * Secrets at rest: the key files a gateway signs, pseudonymizes or issues tokens with (the audit
 * checkpoint key, the HMAC masking key, the development issuer's key) are created mode 0600 in a
 * 0700 directory, and a key file other users could open is refused at start, as ssh refuses an
 * unprotected private key. The other secrets read from files are checked the same way: the
 * upstream token (BQGATE_UPSTREAM_TOKEN_FILE, config.ts), a service-account key
 * (BQGATE_CREDENTIALS, upstream/credentials.ts) and the emulator's secret (emulator.secret,
 * BQGATE_EMULATOR_SECRET_FILE).
 *
 * The rule is PostgreSQL's for its `ssl_key_file`
 * (https://www.postgresql.org/docs/current/ssl-tcp.html#SSL-SETUP): a file owned by the user the
 * gateway runs as allows no group or other access (0600 or less); a file owned by root may also be
 * group-readable (0640 or less), which is how Kubernetes mounts a Secret volume with `fsGroup`
 * (root-owned files, mode 0440). Windows has no such mode bits: nothing is checked there.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/**
 * Throws (an `Error` whose message says how to fix it) when `file` can be read or written by users
 * other than its owner beyond the rule above. `what` names the key in the message ("the HMAC key").
 * A missing file throws as `statSync` does (ENOENT).
 */
export function checkSecretFile(file: string, what: string): void {
  if (process.platform === 'win32') return;
  const st = statSync(file);
  const rootOwned = st.uid === 0 && process.getuid?.() !== 0;
  const allowed = rootOwned ? 0o640 : 0o600;
  if ((st.mode & 0o777 & ~allowed) === 0) return;
  const open = st.mode & 0o007 ? 'other users' : 'its group';
  throw new Error(`${what} ${file} is accessible by ${open} (mode ${octal(st.mode)}): a key must be readable by its owner only. `
    + `Fix: chmod 600 ${file}` + (rootOwned ? ' (a root-owned file may be 640)' : '') + ', and replace the key if others may have read it.');
}

/** The contents of the secret `file` after `checkSecretFile`. */
export function readSecretFile(file: string, what: string): Buffer {
  checkSecretFile(file, what);
  return readFileSync(file);
}

/**
 * Creates the secret `file` with `data`: mode 0600, its directory 0700 when created; fails
 * (EEXIST) rather than overwrite an existing file.
 */
export function createSecretFile(file: string, data: string | Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, data, { mode: 0o600, flag: 'wx' });
}
