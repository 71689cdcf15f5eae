#!/usr/bin/env bash
# scripts/test's count (scripts/test-summary) on made-up meson results: every meson result
# that is not a pass or a skip counts as failed, the failed names are the last lines before
# the count, the exit status follows, and a run that counted nothing fails.
set -euo pipefail
top=${SEVD_SOURCE_ROOT:?run through meson test}
sum=$top/scripts/test-summary
source "$(dirname "$0")/check.sh"

for r in OK EXPECTEDFAIL SKIP FAIL TIMEOUT ERROR UNEXPECTEDPASS; do
	printf '{"name": "t-%s", "result": "%s", "duration": 1.0}\n' "$r" "$r"
done >"$tmp/testlog.json"
"$sum" collect normal "$tmp/testlog.json" >"$tmp/summary"
echo "fuzz:corpus-x PASS" >>"$tmp/summary"
check "seven meson results and one fuzz line collected" test "$(wc -l <"$tmp/summary")" -eq 8
check "OK passes" grep -qx 'normal:t-OK PASS' "$tmp/summary"
check "EXPECTEDFAIL passes" grep -qx 'normal:t-EXPECTEDFAIL PASS' "$tmp/summary"
check "SKIP skips" grep -qx 'normal:t-SKIP SKIP' "$tmp/summary"
for r in FAIL TIMEOUT ERROR UNEXPECTEDPASS; do
	check "$r fails" grep -qx "normal:t-$r FAIL" "$tmp/summary"
done

rc=0
"$sum" report "$tmp/summary" >"$tmp/out" || rc=$?
check "a failure exits 1" test "$rc" -eq 1
check "the last line counts" test "$(tail -n 1 "$tmp/out")" = "3 passed, 4 failed, 1 skipped"
check "the four failed names sit right above the count" \
	test "$(tail -n 6 "$tmp/out" | head -n 5 | tr -d ' ' | tr '\n' ' ')" = \
	"Failed: normal:t-FAIL normal:t-TIMEOUT normal:t-ERROR normal:t-UNEXPECTEDPASS "

grep -v ' FAIL$' "$tmp/summary" >"$tmp/green"
rc=0
"$sum" report "$tmp/green" >"$tmp/out" || rc=$?
check "all green exits 0" test "$rc" -eq 0
check "all green says so" test "$(tail -n 1 "$tmp/out")" = "3 passed, 0 failed, 1 skipped"
check "no Failed: heading when green" bash -c '! grep -q "^Failed:" "$1"' _ "$tmp/out"

: >"$tmp/empty"
rc=0
"$sum" report "$tmp/empty" >"$tmp/out" || rc=$?
check "a run that counted nothing fails" test "$rc" -eq 1
"$sum" collect normal "$tmp/missing.json" >"$tmp/none"
check "a missing meson log collects nothing" test ! -s "$tmp/none"
echo "test-summary: $checks checks passed"
