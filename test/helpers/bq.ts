/** Runs the real `bq` CLI against a gateway or an emulator (the token as its OAuth access token); never throws, returns the exit code and output. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const cloudsdk = mkdtempSync(join(tmpdir(), 'bqgate-emu-bq-'));

/** `configDir`: the gcloud config directory bq uses (CLOUDSDK_CONFIG); one temporary directory per test file unless given. */
export async function runBq(url: string, token: string, args: string[], configDir = cloudsdk): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP('bq', [`--api=${url}`, '--project_id=demo-project', `--oauth_access_token=${token}`, '--headless', ...args], {
      env: { ...process.env, CLOUDSDK_CONFIG: configDir, CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true', CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: '1' },
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
