#!/usr/bin/env bash
# scripts/build-options-match on a real meson build dir of a one-file project: the compiler and
# the options it was set up with match; another compiler, another sanitizer or a changed
# option does not (so scripts/test and scripts/fuzz set such a dir up again).
set -euo pipefail
top=${SEVD_SOURCE_ROOT:?run through meson test}
match=$top/scripts/build-options-match
source "$(dirname "$0")/check.sh"
refuses() { ! "$@" 2>/dev/null; }

mkdir "$tmp/p"
echo "project('p', 'c')" >"$tmp/p/meson.build"
echo "option('fuzz', type : 'boolean', value : false)" >"$tmp/p/meson_options.txt"
cc_id=$(${CC:-cc} --version | head -n 1 | grep -qi clang && echo clang || echo gcc)
meson setup "$tmp/b" "$tmp/p" -Db_sanitize=address -Db_lundef=false -Dfuzz=true >/dev/null

check "the options it was set up with match" \
	"$match" "$tmp/b" - b_sanitize=address b_lundef=false fuzz=true
check "its compiler ($cc_id) matches" "$match" "$tmp/b" "$cc_id"
other=$([ "$cc_id" = gcc ] && echo clang || echo gcc)
check "another compiler ($other) does not" refuses "$match" "$tmp/b" "$other"
check "another sanitizer does not" refuses "$match" "$tmp/b" - b_sanitize=address,undefined
check "no sanitizer does not" refuses "$match" "$tmp/b" - b_sanitize=none
check "a project option's other value does not" refuses "$match" "$tmp/b" - fuzz=false
meson configure "$tmp/b" -Dfuzz=false >/dev/null
check "after meson configure, the new value matches" "$match" "$tmp/b" - fuzz=false
check "a dir that is no build dir does not match" refuses "$match" "$tmp/p" - fuzz=false
echo "build-options-match: $checks checks passed"
