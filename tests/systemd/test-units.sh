#!/usr/bin/env bash
# Every unit passes `systemd-analyze verify` (with ExecStart pointing at the binaries of this
# build), and sevd.service's offline security exposure stays below 2.0.
set -euo pipefail
src=${SEVD_SOURCE_ROOT:?}
bld=${SEVD_BUILD_ROOT:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checks=0

for exe in "$bld/daemon/sevd" "$bld/psp/emu/sev-psp-emu"; do
	if [ ! -x "$exe" ]; then
		echo "SKIP: $exe is not built yet"
		exit 77
	fi
done

for f in sevd.service.in sev-psp-emu.service.in; do
	sed -e "s|@bindir@/sevd |$bld/daemon/sevd |" -e "s|@bindir@/sev-psp-emu |$bld/psp/emu/sev-psp-emu |" \
		-e "s|@sysconfdir@|/etc|" "$src/systemd/$f" >"$tmp/${f%.in}"
done
cp "$src/systemd/sevd.socket" "$src/systemd/sevd-tcp.socket" "$tmp/"

for u in sevd.service sevd.socket sevd-tcp.socket sev-psp-emu.service; do
	if ! out=$(cd "$tmp" && systemd-analyze verify --man=no "./$u" 2>&1); then
		echo "systemd-analyze verify $u failed:"; echo "$out"; exit 1
	fi
	if [ -n "$out" ]; then
		echo "systemd-analyze verify $u printed warnings:"; echo "$out"; exit 1
	fi
	checks=$((checks + 1))
done

for u in sevd.service sev-psp-emu.service; do
	out=$(systemd-analyze security --offline=true "$tmp/$u" 2>&1 || true)
	level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$level" ]; then
		echo "no exposure level in systemd-analyze output for $u:"; echo "$out"; exit 1
	fi
	if ! awk -v l="$level" 'BEGIN { exit !(l < 2.0) }'; then
		echo "$u: exposure $level is not below 2.0"; printf '%s\n' "$out" | grep '✗'; exit 1
	fi
	echo "$u: exposure $level"
	checks=$((checks + 1))
done

# sysusers and tmpfiles lines parse.
systemd-sysusers --dry-run --root="$tmp" "$src/systemd/sevd.sysusers" >/dev/null 2>&1 ||
	{ echo "sysusers file does not parse"; exit 1; }
checks=$((checks + 1))
echo "units: $checks checks passed"
