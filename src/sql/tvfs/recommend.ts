/**
 * ML.RECOMMEND's output columns (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-recommend#output):
 * the matrix factorization model's user column, its item column, then `predicted_<rating>` (the model
 * trained with feedback_type EXPLICIT) or `predicted_<rating>_confidence` (IMPLICIT), a FLOAT64.
 * The user / item column names and the feedback type are the model's last training run's
 * trainingOptions (models.get: userColumn, itemColumn, feedbackType); their types are the model's
 * featureColumns of those names (the page's example names them `user` / `item` of STRING); the
 * rating is the model's one label column.
 *
 * An input relation must hold the user column, the item column or both; with both, the page passes
 * the other input columns through without saying where they go, so such an input is refused, as is
 * one holding only the user (or item) column beside others (BigQuery refuses it too).
 * Throws (through `refuse`) whenever one of these facts is missing: the call is refused, never guessed.
 */
import type { ModelInfo } from '../index.js';
import type { TypeProto } from '../types.js';
import type { Column } from './index.js';

/** One output column: the user or item column (`input`: the input column it copies, if given) or the rating. */
export interface Recommended { column: Column; role: 'user' | 'item' | 'predicted'; input?: Column }

/** ML.RECOMMEND's output over `input` (undefined: no relation argument), in output order. */
export function recommendedColumns(model: ModelInfo | undefined, input: Column[] | undefined, toType: (t: ModelInfo['featureColumns'][number]['type']) => TypeProto, refuse: (why: string) => never): Recommended[] {
  if ((model?.modelType ?? '').toUpperCase() !== 'MATRIX_FACTORIZATION') refuse(`model ${model?.fullName ?? '?'} is not a matrix factorization model (models.get modelType ${model?.modelType ?? 'unknown'})`);
  const o = model!.trainingOptions ?? {};
  if (!o.userColumn || !o.itemColumn || !o.feedbackType) refuse(`bqgate does not know the user column, item column and feedback type of model ${model!.fullName} (models.get trainingRuns[].trainingOptions userColumn, itemColumn, feedbackType), so it cannot name the output columns`);
  const feedback = o.feedbackType!.toUpperCase();
  if (feedback !== 'EXPLICIT' && feedback !== 'IMPLICIT') refuse(`model ${model!.fullName} has feedback type ${o.feedbackType}, which the page does not document`);
  if (model!.labelColumns.length !== 1) refuse(`bqgate does not know the rating column of model ${model!.fullName} (models.get labelColumns)`);
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  const feature = (name: string) => model!.featureColumns.find((f) => same(f.name, name))
    ?? refuse(`model ${model!.fullName} does not list its column ${name} among its featureColumns (models.get)`);
  const user = feature(o.userColumn!), item = feature(o.itemColumn!);
  const inUser = input?.find((c) => same(c.name, user.name)), inItem = input?.find((c) => same(c.name, item.name));
  if (input && !inUser && !inItem) refuse(`the input relation has neither the user column ${user.name} nor the item column ${item.name} of the model`);
  if (input && input.length > (inUser && inItem ? 2 : 1)) refuse(inUser && inItem
    ? 'the input relation has columns beside the user and item columns, which the function passes through at a place its page does not give; select only those two'
    : 'an input relation with only the user or only the item column may hold no other column');
  const rating = model!.labelColumns[0].name;
  return [
    { column: { name: user.name, type: toType(user.type) }, role: 'user', ...(inUser ? { input: inUser } : {}) },
    { column: { name: item.name, type: toType(item.type) }, role: 'item', ...(inItem ? { input: inItem } : {}) },
    { column: { name: feedback === 'EXPLICIT' ? `predicted_${rating}` : `predicted_${rating}_confidence`, type: { typeKind: 'TYPE_DOUBLE' } }, role: 'predicted' },
  ];
}
