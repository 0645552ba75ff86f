#!/bin/sh
# Policy review for any CI (docs/data-teams.md): lint, test with a coverage floor, diff against the
# recorded traffic, and refuse a change whose diff nobody acknowledged.
#
#   scripts/policy-ci.sh [PROPOSED_DIR]          (default: policies)
#
# Environment:
#   BQGATE                 the bqgate command (default: npx bqgate)
#   BQGATE_DATA_DIR / BQGATE_AUDIT_POSTGRES
#                          where the audit log is (read-only is enough), as for `bqgate sessions`
#   BQGATE_UPSTREAM        the BigQuery API the lint and tests read the catalog from (default: the
#                          embedded emulator with its fixtures)
#   CURRENT_POLICIES       the policy in force (a directory); default: PROPOSED_DIR as of BASE_REF
#   BASE_REF               the git ref of the policy in force (default: origin/main)
#   MIN_COVERAGE           `bqgate policy test --min-coverage` (default: 80)
#   DIFF_SINCE             window of recorded traffic for `bqgate policy diff` (default: 7d)
#   LINT_OFFLINE=1         lint without the live catalog
#   ACK_FILE               the acknowledgement file (default: PROPOSED_DIR/policy-diff.ack)
#   OUT_DIR                where policy-diff.json and policy-diff.md are written (default: .)
#
# Acknowledging a diff: `bqgate policy diff` exits 1 when the proposed policy decides some recorded
# statement differently. The script then hashes what changes — SHA-256 over the canonical JSON of
# the two policy versions, each change group's kind/table/column/before/after and each
# no-longer-analyzes group's principal and reason, sorted (not the counts, request ids or window,
# which move with new traffic) — and passes only when ACK_FILE's first non-comment line is that
# hash. Reviewers read policy-diff.md (post it as the pull-request comment), and the author commits
# the printed hash to ACK_FILE. Any later edit of the proposed policy changes its version and so
# the hash: the diff must be acknowledged again.
#
# Exit codes: 0 pass; 1 a step failed (lint problems, failing tests, coverage below MIN_COVERAGE,
# an unacknowledged diff); 2 a usage or environment error (the diff could not run).
set -eu

PROPOSED=${1:-policies}
PROPOSED=${PROPOSED#./}
PROPOSED=${PROPOSED%/}
BQGATE=${BQGATE:-npx bqgate}
MIN_COVERAGE=${MIN_COVERAGE:-80}
DIFF_SINCE=${DIFF_SINCE:-7d}
BASE_REF=${BASE_REF:-origin/main}
ACK_FILE=${ACK_FILE:-$PROPOSED/policy-diff.ack}
OUT_DIR=${OUT_DIR:-.}

[ -d "$PROPOSED" ] || { echo "policy-ci: no policy directory $PROPOSED" >&2; exit 2; }
mkdir -p "$OUT_DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -z "${CURRENT_POLICIES:-}" ]; then
  # The policy in force: the proposed directory as of BASE_REF.
  CURRENT_POLICIES=$tmp/current
  mkdir -p "$CURRENT_POLICIES"
  git archive "$BASE_REF" "$PROPOSED" | tar -x -C "$tmp/current" --strip-components="$(printf '%s' "$PROPOSED" | awk -F/ '{print NF}')" \
    || { echo "policy-ci: cannot read $PROPOSED at $BASE_REF (set CURRENT_POLICIES or BASE_REF)" >&2; exit 2; }
fi

echo "== 1/3 lint $PROPOSED"
if [ "${LINT_OFFLINE:-}" = 1 ]; then $BQGATE policy lint --offline --policies "$PROPOSED"; else $BQGATE policy lint --policies "$PROPOSED"; fi \
  || { echo "policy-ci: FAILED: lint" >&2; exit 1; }

echo "== 2/3 test $PROPOSED (coverage at least $MIN_COVERAGE%)"
$BQGATE policy test --policies "$PROPOSED" --min-coverage "$MIN_COVERAGE" \
  || { echo "policy-ci: FAILED: policy tests or coverage below $MIN_COVERAGE%" >&2; exit 1; }

echo "== 3/3 diff $CURRENT_POLICIES -> $PROPOSED over the last $DIFF_SINCE of recorded traffic"
rc=0
$BQGATE policy diff --policy "$CURRENT_POLICIES" --proposed "$PROPOSED" --since "$DIFF_SINCE" --json > "$OUT_DIR/policy-diff.json" || rc=$?
if [ "$rc" -eq 0 ]; then echo "policy-ci: OK: the proposed policy decides every recorded statement as the current one does"; exit 0; fi
if [ "$rc" -ne 1 ]; then echo "policy-ci: ERROR: policy diff exited $rc" >&2; exit 2; fi
$BQGATE policy diff --policy "$CURRENT_POLICIES" --proposed "$PROPOSED" --since "$DIFF_SINCE" --format markdown > "$OUT_DIR/policy-diff.md" || true

hash=$(node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const sortKeys = (v) => Array.isArray(v) ? v.map(sortKeys) : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])])) : v;
const pick = (o, ks) => Object.fromEntries(ks.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
const lines = (xs) => xs.map((x) => JSON.stringify(sortKeys(x))).sort();
const what = { policy: r.policy, changes: lines((r.changes || []).map((c) => pick(c, ["kind", "table", "column", "before", "after"]))), noLongerAnalyzes: lines((r.noLongerAnalyzes || []).map((n) => pick(n, ["principal", "reason"]))) };
process.stdout.write(require("crypto").createHash("sha256").update(JSON.stringify(sortKeys(what))).digest("hex"));
' "$OUT_DIR/policy-diff.json")

acked=$( [ -f "$ACK_FILE" ] && grep -v '^[[:space:]]*#' "$ACK_FILE" | grep -v '^[[:space:]]*$' | head -n 1 | tr -d '[:space:]' || true)
if [ "$acked" = "$hash" ]; then
  echo "policy-ci: OK: the diff is acknowledged in $ACK_FILE ($hash)"
  exit 0
fi
echo "policy-ci: FAILED: the proposed policy changes decisions on recorded traffic (see $OUT_DIR/policy-diff.md)." >&2
[ -n "$acked" ] && echo "policy-ci: $ACK_FILE acknowledges $acked, a different diff." >&2
echo "policy-ci: after review, acknowledge this diff with:  echo $hash > $ACK_FILE" >&2
exit 1
