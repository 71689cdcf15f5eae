#!/bin/bash
# contrib/prometheus/sevd.rules.yml: `promtool check rules` accepts it, `promtool test
# rules` runs sevd.rules.test.yml (for every alert, series that fire it with its labels and
# annotations, and series that must not), every alert of the rules has both kinds of case
# there, and every sevd_* series a rule names is one sevd exports (a "# HELP" line in daemon/).
# Exit 77 when promtool is missing (Debian package prometheus; scripts/deps test installs it).
set -u
src=${SEVD_SOURCE_ROOT:?}
rules=$src/contrib/prometheus/sevd.rules.yml
cases=$src/tests/prometheus/sevd.rules.test.yml
if ! command -v promtool >/dev/null; then
	echo "SKIP: promtool is not installed (Debian package 'prometheus'; scripts/deps test)"
	exit 77
fi
fail=0
promtool check rules "$rules" || fail=1
promtool test rules "$cases" || fail=1

alerts=$(sed -n 's/^ *- alert: *//p' "$rules")
[[ -n $alerts ]] || { echo "FAIL: no alert in $rules"; exit 1; }
for a in $alerts; do
	# the line after "alertname: A" is "exp_alerts: []" (must not fire) or "exp_alerts:"
	fires=$(grep -A1 -E "alertname: $a\$" "$cases" | grep -cE 'exp_alerts: *$')
	quiet=$(grep -A1 -E "alertname: $a\$" "$cases" | grep -cE 'exp_alerts: *\[\]')
	if ((fires == 0 || quiet == 0)); then
		echo "FAIL: $a has $fires firing and $quiet quiet cases in $cases"
		fail=1
	fi
done

for m in $(grep -v '^ *#' "$rules" | grep -oE 'sevd_[a-z_]+' | sort -u); do
	if ! grep -rqE --include="*.c" "# HELP $m " "$src"/daemon; then
		echo "FAIL: the rules name $m, which sevd does not export (no '# HELP $m' in daemon/)"
		fail=1
	fi
done
n=$(wc -w <<<"$alerts")
((fail == 0)) && echo "rules: $n alerts checked, tested firing and quiet, series exported"
exit $fail
