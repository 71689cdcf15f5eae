#!/usr/bin/env bash
# sevadm export --from: single certificates extracted from chain files, offline (SEV-FACTS §10,
# sevctl#185). Real binary, real vectors read in place; no daemon.
set -euo pipefail
sevadm=${SEVADM_EXE:?}
v=${SEV_VECTORS:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checks=0
ok() { checks=$((checks + 1)); }
fail() { echo "FAIL: $*"; exit 1; }

cat "$v"/sev-chains/milan/{pdh,pek,oca,cek}.cert >"$tmp/chain.cert"
cat "$v"/amd-roots/sev/milan/{ask,ark}.cert >"$tmp/ask_ark_milan.cert"

# Every certificate of a sevctl chain plus AMD's ask_ark file lands in its own file, byte-exact.
"$sevadm" export --from "$tmp/chain.cert" --from "$tmp/ask_ark_milan.cert" --full "$tmp/out" >/dev/null
for c in pdh pek oca cek; do cmp -s "$tmp/out/$c.cert" "$v/sev-chains/milan/$c.cert" || fail "$c differs"; ok; done
for c in ask ark; do cmp -s "$tmp/out/$c.cert" "$v/amd-roots/sev/milan/$c.cert" || fail "$c differs"; ok; done
"$sevadm" verify chain "$tmp/out" --roots "$v/amd-roots" >/dev/null || fail "extracted chain does not verify"; ok

# A chain file alone: only the certificates it holds are written.
"$sevadm" export --from "$tmp/chain.cert" --full "$tmp/part" >/dev/null
[ -f "$tmp/part/pdh.cert" ] && [ ! -e "$tmp/part/ask.cert" ] || fail "partial extraction"; ok
# The PDH alone is what a guest owner needs for a session.
(cd "$tmp" && "$sevadm" session --name owner part/pdh.cert 1) >/dev/null || fail "session from extracted PDH"; ok
[ -s "$tmp/owner_session.b64" ] || fail "no session written"; ok

# The SEV chain back out of separate files equals the original concatenation.
"$sevadm" export --from "$tmp/out/cek.cert" --from "$tmp/out/pdh.cert" --from "$tmp/out/oca.cert" \
	--from "$tmp/out/pek.cert" "$tmp/again.cert" >/dev/null
cmp -s "$tmp/again.cert" "$tmp/chain.cert" || fail "re-concatenated chain differs"; ok

# Refusals: a chain without a PDH, garbage, a missing file; nothing written, clear messages.
if out=$("$sevadm" export --from "$tmp/ask_ark_milan.cert" "$tmp/x.cert" 2>&1); then fail "no PDH accepted"; fi
grep -q "no pdh certificate" <<<"$out" || fail "message: $out"; [ ! -e "$tmp/x.cert" ] || fail "file left"; ok
head -c 100 /dev/urandom >"$tmp/junk"
if out=$("$sevadm" export --from "$tmp/junk" --full "$tmp/j" 2>&1); then fail "junk accepted"; fi
grep -q "junk" <<<"$out" || fail "message does not name the file: $out"; ok
if "$sevadm" export --from "$tmp/none" --full "$tmp/n" 2>/dev/null; then fail "missing file accepted"; fi; ok
if "$sevadm" export --full "$tmp/out" --from "$tmp/chain.cert" >/dev/null 2>&1; then fail "overwrote without --force"; fi; ok
echo "cli-export-offline: $checks checks passed"
