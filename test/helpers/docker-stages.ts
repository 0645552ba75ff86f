/**
 * Runs a Dockerfile's stages without a Docker engine (no engine, and no base image, can be had on
 * this machine): each stage is a directory standing for its file system's WORKDIR; the build
 * context is a clean copy of the tree (the files git tracks or would track, less .dockerignore);
 * COPY copies from the context or, with --from, from an earlier stage's directory; RUN runs its
 * shell command in the stage's directory; ENV accumulates. What only an image has is not run and is
 * listed in `skipped`: RUNs that install Debian packages or create the system user (the machine has
 * the toolchain; the tests are not to add users to it), `--chown`, USER, the base image itself.
 * https://docs.docker.com/reference/dockerfile/
 */
import { DockerfileParser } from 'dockerfile-ast';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, matchesGlob, resolve } from 'node:path';

export interface Stage { name: string; dir: string; workdir: string; env: Record<string, string> }
export interface StagesRun {
  /** Stages by name (`FROM … AS name`), in order; the last is the runtime. */
  stages: Stage[];
  /** The runtime stage's ENTRYPOINT + CMD (exec form). */
  command: string[];
  /** The runtime stage's HEALTHCHECK command (shell form), if any. */
  healthcheck?: string;
  skipped: string[];
}

/** The build context: tracked and untracked-but-not-ignored files of `root`, less `.dockerignore`'s patterns. */
export function copyContext(root: string, to: string): void {
  const ignore = existsSync(join(root, '.dockerignore'))
    ? readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    : [];
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  // A pattern excludes a path it matches and everything under a directory it matches.
  const ignored = (f: string) => f.split('/').some((_, i, parts) => ignore.some((p) => matchesGlob(parts.slice(0, i + 1).join('/'), p)));
  for (const f of files) {
    if (ignored(f) || !existsSync(join(root, f))) continue;
    mkdirSync(dirname(join(to, f)), { recursive: true });
    cpSync(join(root, f), join(to, f), { verbatimSymlinks: true });
  }
}

/** Runs `command` with `sh -c` in `cwd` (output passed through); rejects unless it exits 0. Asynchronous: a test runner's worker must keep answering while a stage builds. */
function sh(command: string, cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn('sh', ['-c', command], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', fail);
    child.once('exit', (code, signal) => (code === 0 ? ok() : fail(new Error(`RUN ${command}: exit ${code ?? signal}`))));
  });
}

/** Runs `dockerfile`'s stages under `work` with `context` as the build context. */
export async function runStages(dockerfile: string, context: string, work: string, log: (line: string) => void = () => undefined): Promise<StagesRun> {
  const df = DockerfileParser.parse(readFileSync(dockerfile, 'utf8'));
  const stages: Stage[] = [];
  const skipped: string[] = [];
  let command: string[] = [];
  let entrypoint: string[] = [];
  let healthcheck: string | undefined;
  const SYSTEM = /^(apt-get|groupadd|useradd)\b/;
  for (const ins of df.getInstructions()) {
    const kw = ins.getKeyword();
    const text = ins.getTextContent().slice(kw.length).trim();
    const stage = stages[stages.length - 1];
    const inStage = (p: string) => resolve(stage.dir, '.' + resolve(stage.workdir, p));
    if (kw === 'FROM') {
      const name = (ins as unknown as { getBuildStage(): string | null }).getBuildStage() ?? String(stages.length);
      const dir = join(work, name);
      mkdirSync(dir, { recursive: true });
      stages.push({ name, dir, workdir: '/', env: {} });
      skipped.push(`FROM ${text} (base image)`);
      command = []; entrypoint = []; healthcheck = undefined;
    } else if (kw === 'WORKDIR') {
      stage.workdir = resolve(stage.workdir, text);
      mkdirSync(inStage('.'), { recursive: true });
    } else if (kw === 'ENV') {
      for (const p of (ins as unknown as { getProperties(): Array<{ getName(): string; getValue(): string | null }> }).getProperties()) stage.env[p.getName()] = p.getValue() ?? '';
    } else if (kw === 'COPY') {
      const flags = Object.fromEntries((ins as unknown as { getFlags(): Array<{ getName(): string; getValue(): string | null }> }).getFlags().map((f) => [f.getName(), f.getValue()]));
      const args = ins.getArguments().map((a) => a.getValue());
      const dest = args.pop()!;
      const from = flags.from ? stages.find((s) => s.name === flags.from) : undefined;
      if (flags.from && !from) throw new Error(`COPY --from=${flags.from}: no such stage`);
      if (flags.chown) skipped.push(`COPY --chown=${flags.chown} (ownership)`);
      for (const src of args) {
        const path = from ? resolve(from.dir, '.' + resolve('/', src)) : join(context, src);
        const target = dest.endsWith('/') ? join(inStage(dest), src.split('/').pop()!) : inStage(dest);
        mkdirSync(dirname(target), { recursive: true });
        cpSync(path, target, { recursive: true, verbatimSymlinks: true });
      }
    } else if (kw === 'RUN') {
      if (SYSTEM.test(text)) { skipped.push(`RUN ${text.split('&&')[0].trim()} … (system)`); continue; }
      log(`[${stage.name}] RUN ${text}`);
      await sh(text, inStage('.'), stage.env);
    } else if (kw === 'ENTRYPOINT') entrypoint = JSON.parse(text);
    else if (kw === 'CMD') command = JSON.parse(text);
    else if (kw === 'HEALTHCHECK') healthcheck = text.slice(text.indexOf('CMD ') + 4).trim();
    else skipped.push(`${kw} ${text}`);
  }
  return { stages, command: [...entrypoint, ...command], healthcheck, skipped };
}
