#!/bin/bash
# The installed manuals render without a troff warning (groff -ww: every warning on) and each
# has the sections a reader looks for. Reads the pages meson configured into the build tree.
set -u
dir=${SEVD_BUILD_ROOT:?}/man
command -v groff >/dev/null || { echo "SKIP: groff is not installed (Debian: groff-base)"; exit 77; }
bad=0 n=0
for page in sevadm.1 sev-run.1 sevd.conf.5 sevd.8 sev-psp-emu.8; do
	f=$dir/$page
	[[ -r $f ]] || { echo "FAIL: $f was not built"; bad=$((bad + 1)); continue; }
	n=$((n + 1))
	warn=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$f" 2>&1)
	[[ -z $warn ]] || { echo "FAIL: $page: troff warnings:"; echo "$warn"; bad=$((bad + 1)); }
	grep -q '@[A-Z_]*@' "$f" && { echo "FAIL: $page: an unsubstituted @VARIABLE@"; bad=$((bad + 1)); }
	for s in NAME SYNOPSIS DESCRIPTION '"SEE ALSO"'; do
		grep -q "^\.SH $s" "$f" || { echo "FAIL: $page: no .SH $s"; bad=$((bad + 1)); }
	done
	if [[ $page != sevd.conf.5 ]]; then
		grep -q '^\.SH "EXIT STATUS"' "$f" || { echo "FAIL: $page: no EXIT STATUS"; bad=$((bad + 1)); }
	fi
done
echo "$n pages rendered, $bad problems"
((bad == 0 && n == 5))
