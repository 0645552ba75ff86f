/**
 * ML.CONFUSION_MATRIX's output columns
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-confusion#output):
 * `expected_label` first — "the exact values and type passed … in the label column of the evaluation
 * data" (the input relation's column named as the model's label; without an input, the model's label
 * type) — then one column per class of the trained model, "ordered based on the class labels in
 * ascending order" (as numbers for a numeric label, else as strings), each named by its label:
 * a label that conforms to the column naming rules as it is, one of the documented altered form (a
 * leading digit: `0` → `_0`) with `_` prefixed. The count columns are INT64, as the model's own
 * confusion matrix counts are (REST Model ConfusionMatrix Entry.itemCount, int64).
 *
 * The classes come from models.get (`ModelInfo.classLabels`: the last training run's binary
 * negative / positive labels, or the labels of its multi-class confusion matrix). A model without
 * them, a label of another shape (the alteration is undocumented), or two labels whose names collide
 * (BigQuery column names are case-insensitive) is refused.
 */
import type { ModelInfo } from '../index.js';
import type { TypeProto } from '../types.js';
import type { Column } from './index.js';

const NUMERIC_KINDS = new Set(['TYPE_INT64', 'TYPE_DOUBLE', 'TYPE_NUMERIC', 'TYPE_BIGNUMERIC', 'TYPE_FLOAT']);

/**
 * The columns for `model`; `labelType`: the type of the label column in the evaluation data (the
 * input relation's column named as the model's label, or the model's own without an input; it
 * throws when the input has no such column); `refuse` throws.
 */
export function confusionColumns(model: ModelInfo | undefined, labelType: (m: ModelInfo) => TypeProto, refuse: (why: string) => never): Column[] {
  const labels = model?.classLabels ?? [];
  if (!model || model.labelColumns.length !== 1 || !labels.length) refuse(`models.get does not give the class labels of model ${model?.fullName ?? '?'} (its training run's evaluation metrics), which name the output columns`);
  const type = labelType(model!);
  const numeric = NUMERIC_KINDS.has(String(type.typeKind));
  const sorted = [...labels].sort((a, b) => (numeric ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0));
  const names = sorted.map((l) => {
    if (/^[A-Za-z_][A-Za-z0-9_]{0,299}$/.test(l)) return l;
    if (/^[0-9][A-Za-z0-9_]{0,298}$/.test(l)) return `_${l}`;
    return refuse(`the class label ${JSON.stringify(l)} of model ${model!.fullName} does not conform to the column naming rules, and how BigQuery alters such a label into a column name is not documented`);
  });
  const seen = new Set<string>(['expected_label']);
  for (const n of names) {
    if (seen.has(n.toLowerCase())) refuse(`two class labels of model ${model!.fullName} give the column name ${n}`);
    seen.add(n.toLowerCase());
  }
  return [{ name: 'expected_label', type }, ...names.map((name) => ({ name, type: { typeKind: 'TYPE_INT64' } as TypeProto }))];
}
