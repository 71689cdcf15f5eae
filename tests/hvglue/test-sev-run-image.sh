#!/bin/bash
# sev-run --demo's default image, without KVM or a daemon (the demo stops at its first
# request, to a socket that does not exist): SEV_GUEST_IMAGE wins and a missing one is named;
# the build-tree sev-run takes the sev-guest.bin built beside it; a copy of sev-run with no
# image beside it (as installed in bindir) names the installed <datadir>/sevd/sev-guest.bin,
# which `sev-run --help` also shows. Needs SEV_RUN_EXE.
set -u
exe=${SEV_RUN_EXE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0 n=0
check() { # DESCRIPTION CONDITION...
	local what=$1
	shift
	n=$((n + 1))
	"$@" || { echo "FAIL: $what"; bad=$((bad + 1)); }
}
printf 'secret' >"$tmp/secret"
demo() { # EXE [ENV=VALUE...]: stderr of a demo against no daemon, into $tmp/err; status in $rc
	local e=$1
	shift
	env "$@" "$e" --daemon "unix:$tmp/no-sevd.sock" --demo --secret-file "$tmp/secret" \
		--emu "unix:$tmp/no-emu.sock" --emulator-root "$tmp/secret" 2>"$tmp/err" >/dev/null
	rc=$?
}

[[ -r $(dirname "$exe")/sev-guest.bin ]] || { echo "FAIL: no sev-guest.bin beside $exe"; exit 1; }

# The build tree: the image beside the executable passes; the run fails later, at sevd.
demo "$exe" -u SEV_GUEST_IMAGE
check "build tree: the built image is taken" bash -c "! grep -q 'no guest image' '$tmp/err'"
check "build tree: fails at sevd, not the image" grep -q 'cannot connect to sevd' "$tmp/err"

# SEV_GUEST_IMAGE: a missing file is named, exit 2 (usage), before any request.
demo "$exe" SEV_GUEST_IMAGE="$tmp/none.bin"
check "SEV_GUEST_IMAGE missing: exit 2 (got $rc)" test "$rc" = 2
check "SEV_GUEST_IMAGE missing: named" grep -qF "no guest image: $tmp/none.bin" "$tmp/err"
check "SEV_GUEST_IMAGE missing: the way out" grep -q -- '--image FILE' "$tmp/err"

# SEV_GUEST_IMAGE: a readable file is taken.
cp "$(dirname "$exe")/sev-guest.bin" "$tmp/mine.bin"
demo "$exe" SEV_GUEST_IMAGE="$tmp/mine.bin"
check "SEV_GUEST_IMAGE readable: taken" grep -q 'cannot connect to sevd' "$tmp/err"

# --image beats SEV_GUEST_IMAGE.
SEV_GUEST_IMAGE="$tmp/none.bin" "$exe" --daemon "unix:$tmp/no-sevd.sock" --demo \
	--secret-file "$tmp/secret" --emu "unix:$tmp/no-emu.sock" --emulator-root "$tmp/secret" \
	--image "$tmp/mine.bin" 2>"$tmp/err" >/dev/null
check "--image over SEV_GUEST_IMAGE" bash -c "! grep -q 'no guest image' '$tmp/err'"

# A copy with nothing beside it (an installed sev-run): the installed path, as --help says.
installed=$("$exe" --help | grep -oE '/[^ )]*/sevd/sev-guest\.bin' | head -n1)
check "--help names the installed image" test -n "$installed"
case $installed in "$(dirname "$exe")"/*) echo "FAIL: the installed path is in the build tree"; bad=$((bad + 1)) ;; esac
mkdir "$tmp/bin" && cp "$exe" "$tmp/bin/sev-run"
demo "$tmp/bin/sev-run" -u SEV_GUEST_IMAGE
if [[ -r $installed ]]; then
	check "installed copy: the installed image is taken" grep -q 'cannot connect to sevd' "$tmp/err"
else
	check "installed copy: names $installed (got: $(cat "$tmp/err"))" \
		grep -qF "no guest image: $installed" "$tmp/err"
	check "installed copy: never the build tree's image" \
		bash -c "! grep -qF '$(dirname "$exe")' '$tmp/err'"
fi
echo "$n checks, $bad failed"
((bad == 0 && n > 0))
