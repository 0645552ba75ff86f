/**
 * The analysis stack for CLI commands that need it (policy lint with the live catalog, explain,
 * test): the upstream from the configuration (the embedded emulator on a free port by default),
 * the catalog, and a ZetaSQL server of its own. `close()` stops what was started.
 */
import type { Config } from '../config.js';
import { Analyzer, ZetaSqlServer } from '../sql/index.js';
import { Catalog } from '../catalog/index.js';
import { Upstream } from '../upstream/index.js';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../emulator/index.js';
import { localCredential } from '../upstream/credentials.js';
import type { CatalogListing } from '../policy/lint.js';

export interface AnalysisStack {
  analyzer: Analyzer;
  zetasql: ZetaSqlServer;
  catalog: Catalog;
  upstream: Upstream;
  /** Every table of every dataset of `projects`, with column names (for lint). */
  listing(projects: string[]): Promise<CatalogListing>;
  close(): Promise<void>;
}

/** Starts the stack for `cfg` (only `upstream` and `fixturesDir` are read); `catalogTtlMs` defaults to the catalog's. */
export async function openAnalysis(cfg: Pick<Config, 'upstream' | 'fixturesDir'>, catalogTtlMs?: number): Promise<AnalysisStack> {
  let emulator: RunningEmulator | undefined;
  const secret = cfg.upstream === 'emulator' ? newEmulatorSecret() : undefined;
  const baseUrl = secret ? (emulator = await startEmulator({ port: 0, fixturesDir: cfg.fixturesDir, secret })).url : cfg.upstream;
  const upstream = new Upstream({ baseUrl, ...(secret ? { authClient: localCredential(secret) } : {}) });
  const catalog = new Catalog(upstream, catalogTtlMs);
  const zetasql = new ZetaSqlServer();
  await zetasql.start();
  return {
    analyzer: new Analyzer(zetasql, catalog),
    zetasql,
    catalog,
    upstream,
    async listing(projects) {
      const out: CatalogListing = [];
      for (const p of projects) {
        const ds = await upstream.ok('GET', `/projects/${encodeURIComponent(p)}/datasets`);
        for (const d of ds.datasets ?? []) {
          const dataset = d.datasetReference.datasetId;
          for (const t of await catalog.listTables(p, dataset)) {
            const info = await catalog.getTable(`${p}.${dataset}.${t}`);
            out.push({ table: info.fullName, columns: info.schema.map((f) => f.name), policyTags: Object.fromEntries(info.schema.filter((f) => f.policyTags?.names?.length).map((f) => [f.name, f.policyTags!.names])) });
          }
          // Models are governed like tables of their dataset (decide() reads `tables` patterns for them):
          // models.list, then models.get for the feature and label columns.
          for (const m of await listModels(upstream, p, dataset)) {
            const info = await catalog.getModel(`${p}.${dataset}.${m}`);
            out.push({ table: info.fullName, columns: [...info.featureColumns, ...info.labelColumns].map((c) => c.name), model: true });
          }
        }
      }
      return out;
    },
    async close() { await zetasql.stop(); await emulator?.close(); },
  };
}

/** Model ids of `project.dataset` (models.list, every page; https://cloud.google.com/bigquery/docs/reference/rest/v2/models/list). */
async function listModels(upstream: Upstream, project: string, dataset: string): Promise<string[]> {
  const out: string[] = [];
  let pageToken: string | undefined;
  do {
    const r = await upstream.ok('GET', `/projects/${encodeURIComponent(project)}/datasets/${encodeURIComponent(dataset)}/models`, { query: { maxResults: '1000', ...(pageToken ? { pageToken } : {}) } });
    out.push(...(r.models ?? []).map((m: any) => String(m.modelReference.modelId)));
    pageToken = r.nextPageToken;
  } while (pageToken);
  return out;
}
