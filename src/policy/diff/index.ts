/**
 * `policy/diff/`: what a proposed policy would decide differently on the traffic the gateway
 * already carried (issue 23). `diffTraffic` reads the audit log in pages, analyzes every recorded
 * statement against today's catalog, decides it under the current and the proposed policy and
 * groups the differences (run.ts); `changesBetween` compares two decisions (classify.ts);
 * `renderText` / `renderMarkdown` print a report (render.ts). Example statements are literal-free
 * (redact.ts). Used by `bqgate policy diff` (cli/policy-diff.ts) and the console's proposed-policy
 * mode (doors/console/policy-diff.ts).
 */
export { diffTraffic, changesDigest, tableExistsIn, type DiffReport, type DiffOptions, type DiffSources, type ChangeGroup, type NoLongerAnalyzes } from './run.js';
export { changesBetween, type Change, type ChangeKind } from './classify.js';
export { renderText, renderMarkdown, summary } from './render.js';
export { redactLiterals, redactMessage } from './redact.js';
