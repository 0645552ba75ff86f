/**
 * Models for the analyzer: `project.dataset.model` → `ModelInfo` from the upstream's models.get
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/models/get: modelType, featureColumns,
 * labelColumns as StandardSqlField; the last trainingRuns[].trainingOptions userColumn, itemColumn,
 * feedbackType, hparamTuningObjectives; the hparamSearchSpaces keys; a classifier's class labels from
 * the last run's evaluationMetrics), with the gateway's credential,
 * cached for `ttlMs` like schemas.
 * Throws BigQueryError(notFound) for a model the upstream does not have, backendError otherwise.
 */
import { pathParts } from '../bigquery/table-path.js';
import { BigQueryError } from '../bigquery/errors.js';
import type { Upstream } from '../upstream/index.js';
import type { ModelInfo } from '../sql/index.js';
import { cachedFor } from './ttl.js';

export class ModelCache {
  private cache = new Map<string, { at: number; info: Promise<ModelInfo> }>();

  constructor(private readonly upstream: Upstream, private readonly ttlMs: number) {}

  get(fullName: string): Promise<ModelInfo> { return cachedFor(this.cache, fullName, this.ttlMs, () => this.fetch(fullName)); }

  invalidate(fullName: string): void { this.cache.delete(fullName); }

  private async fetch(fullName: string): Promise<ModelInfo> {
    const [p, d, m] = pathParts(fullName);
    if (!p || !d || !m) throw new BigQueryError('notFound', `Not found: Model ${fullName} (a model is named project.dataset.model)`);
    const r = await this.upstream.call('GET', `/projects/${enc(p)}/datasets/${enc(d)}/models/${enc(m)}`);
    if (r.status === 404) throw new BigQueryError('notFound', `Not found: Model ${p}:${d}.${m}`);
    if (r.status >= 300) throw new BigQueryError('backendError', `Could not read the model ${fullName} from the upstream (HTTP ${r.status}); the query was not run.`);
    const cols = (xs: any): ModelInfo['featureColumns'] => (Array.isArray(xs) ? xs : []).map((c: any) => ({ name: String(c.name), type: c.type ?? { typeKind: 'TYPE_KIND_UNSPECIFIED' } }));
    return { fullName, ...(r.body.modelType ? { modelType: String(r.body.modelType) } : {}), featureColumns: cols(r.body.featureColumns), labelColumns: cols(r.body.labelColumns), ...trainingOptionsOf(r.body), ...searchSpacesOf(r.body), ...classLabelsOf(r.body) };
  }
}

const enc = encodeURIComponent;

/** The last training run's userColumn / itemColumn / feedbackType / hparamTuningObjectives (Model.trainingRuns[].trainingOptions), when given. */
function trainingOptionsOf(body: any): Pick<ModelInfo, 'trainingOptions'> {
  const runs = Array.isArray(body.trainingRuns) ? body.trainingRuns : [];
  const o = runs.at(-1)?.trainingOptions ?? {};
  const picked: NonNullable<ModelInfo['trainingOptions']> = Object.fromEntries((['userColumn', 'itemColumn', 'feedbackType'] as const).filter((k) => typeof o[k] === 'string').map((k) => [k, o[k] as string]));
  if (Array.isArray(o.hparamTuningObjectives) && o.hparamTuningObjectives.every((x: unknown) => typeof x === 'string')) picked.hparamTuningObjectives = o.hparamTuningObjectives;
  return Object.keys(picked).length ? { trainingOptions: picked } : {};
}

/**
 * A classifier's class labels: the last training run's binaryClassificationMetrics negativeLabel /
 * positiveLabel, or the actualLabel of each row of its first multi-class confusion matrix (REST
 * Model EvaluationMetrics), when given.
 */
function classLabelsOf(body: any): Pick<ModelInfo, 'classLabels'> {
  const runs = Array.isArray(body.trainingRuns) ? body.trainingRuns : [];
  const m = runs.at(-1)?.evaluationMetrics ?? {};
  const binary = m.binaryClassificationMetrics;
  const rows = m.multiClassClassificationMetrics?.confusionMatrixList?.[0]?.rows;
  const labels: unknown[] = binary ? [binary.negativeLabel, binary.positiveLabel] : Array.isArray(rows) ? rows.map((r: any) => r?.actualLabel) : [];
  return labels.length && labels.every((l) => typeof l === 'string' && l !== '') ? { classLabels: [...new Set(labels as string[])] } : {};
}

/** The keys of Model.hparamSearchSpaces (the tuned hyperparameters), when given. */
function searchSpacesOf(body: any): Pick<ModelInfo, 'hparamSearchSpaces'> {
  const s = body.hparamSearchSpaces;
  return s && typeof s === 'object' && !Array.isArray(s) && Object.keys(s).length ? { hparamSearchSpaces: Object.keys(s) } : {};
}
