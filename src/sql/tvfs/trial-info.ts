/**
 * ML.TRIAL_INFO's two model-shaped columns
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-trial-info#output):
 * - `hyperparameters`: a STRUCT of "the hyperparameters used in the trial" — the model's tuned
 *   hyperparameters, one field per search space models.get lists (`hparamSearchSpaces`,
 *   https://cloud.google.com/bigquery/docs/reference/rest/v2/models#hparamsearchspaces), in that order,
 *   named as the CREATE MODEL option (`l1Reg` → `l1_reg`) and typed by the search space's kind
 *   (DoubleHparamSearchSpace FLOAT64, IntHparamSearchSpace INT64, StringHparamSearchSpace STRING,
 *   IntArrayHparamSearchSpace ARRAY<INT64>);
 * - `hparam_tuning_evaluation_metrics`: a STRUCT of "the evaluation metrics appropriate to the
 *   hyperparameter tuning objective specified by hparam_tuning_objectives": one FLOAT64 field per
 *   objective of the last training run (`trainingOptions.hparamTuningObjectives`, `R2_SCORE` →
 *   `r2_score`).
 * A model without search spaces or objectives (not tuned, or a models.get answer without them), or a
 * search space this table does not know, is refused: nothing is guessed.
 */
import type { ModelInfo } from '../index.js';
import type { TypeProto } from '../types.js';
import type { Column } from './index.js';

const FLOAT64: TypeProto = { typeKind: 'TYPE_DOUBLE' };
const INT64: TypeProto = { typeKind: 'TYPE_INT64' };
const STRING: TypeProto = { typeKind: 'TYPE_STRING' };

/** HparamSearchSpaces fields (REST reference, v2 Model) → the type of their value in a trial. */
const SEARCH_SPACES: Record<string, TypeProto> = {
  learnRate: FLOAT64, l1Reg: FLOAT64, l2Reg: FLOAT64, numClusters: INT64, numFactors: INT64,
  hiddenUnits: { typeKind: 'TYPE_ARRAY', arrayType: { elementType: INT64 } }, batchSize: INT64, dropout: FLOAT64,
  maxTreeDepth: INT64, subsample: FLOAT64, minSplitLoss: FLOAT64, walsAlpha: FLOAT64, boosterType: STRING,
  numParallelTree: INT64, dartNormalizeType: STRING, treeMethod: STRING, minTreeChildWeight: INT64,
  colsampleBytree: FLOAT64, colsampleBylevel: FLOAT64, colsampleBynode: FLOAT64, activationFn: STRING, optimizer: STRING,
};

const snake = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The `hyperparameters` and `hparam_tuning_evaluation_metrics` columns for `model`; `refuse` throws. */
export function trialColumns(model: ModelInfo | undefined, refuse: (why: string) => never): Column[] {
  const spaces = model?.hparamSearchSpaces ?? [];
  const objectives = model?.trainingOptions?.hparamTuningObjectives ?? [];
  if (!spaces.length || !objectives.length) refuse(`models.get does not give the tuned hyperparameters (hparamSearchSpaces) and tuning objectives (hparamTuningObjectives) of model ${model?.fullName ?? '?'}, which its trials' STRUCT columns are made of`);
  const odd = objectives.filter((o) => !/^[A-Za-z][A-Za-z0-9_]*$/.test(o));
  if (odd.length) refuse(`bqgate cannot name the tuning objective ${JSON.stringify(odd[0])} of model ${model!.fullName} as a STRUCT field`);
  const unknown = spaces.filter((s) => !Object.hasOwn(SEARCH_SPACES, s));
  if (unknown.length) refuse(`bqgate does not know the type of the hyperparameter search space ${unknown.join(', ')} of model ${model!.fullName}`);
  const struct = (fields: Array<[string, TypeProto]>): TypeProto => ({ typeKind: 'TYPE_STRUCT', structType: { field: fields.map(([fieldName, fieldType]) => ({ fieldName, fieldType })) } });
  return [
    { name: 'hyperparameters', type: struct(spaces.map((s) => [snake(s), SEARCH_SPACES[s]])) },
    { name: 'hparam_tuning_evaluation_metrics', type: struct(objectives.map((o) => [o.toLowerCase(), FLOAT64])) },
  ];
}
