#!/bin/bash
# Build the Debian packages as a user would (dpkg-buildpackage -us -uc -b) in a throw-away
# copy of the tree, unpack them into a throw-away root (dpkg -x), check what they hold
# (binaries, units, sysusers.d, tmpfiles.d, manuals, completion, maintainer-script snippets)
# and that the shipped programs run from that root, then run lintian: errors fail, warnings
# are listed. Nothing is written inside the repository.
#
#   tests/package/build-deb.sh [--worktree] [--keep]
#     --worktree  package the working tree (tracked and untracked, not ignored) instead of HEAD
#     --keep      leave the temporary directory (its path is printed)
#
# Installs its tools (dpkg-dev, debhelper, lintian, fakeroot) and the Build-Depends with
# apt-get when they are missing and it runs as root; otherwise exits 77 saying what to install.
# Exit: 0 built, checked and lintian-clean of errors; 1 a check failed; 77 cannot run here.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
worktree=0 keep=0
for a in "$@"; do
	case $a in
	--worktree) worktree=1 ;;
	--keep) keep=1 ;;
	-h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "build-deb.sh: unknown option '$a' (see --help)" >&2; exit 2 ;;
	esac
done

t0=$(date +%s)
fail=0
problem() { echo "FAIL: $*"; fail=$((fail + 1)); }

# --- tools and build dependencies ---
apt_install() {
	if [[ $(id -u) != 0 ]]; then
		echo "SKIP: missing $*; install them (apt-get install $*) or run as root"
		exit 77
	fi
	echo "== apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null
}
need=()
for p in dpkg-dev:dpkg-buildpackage debhelper:dh lintian:lintian fakeroot:fakeroot; do
	command -v "${p#*:}" >/dev/null || need+=("${p%%:*}")
done
((${#need[@]} == 0)) || apt_install "${need[@]}"
if ! (cd "$repo" && dpkg-checkbuilddeps 2>/dev/null); then
	# The Build-Depends field as one line, as apt-get satisfy takes it.
	deps=$(awk '/^Build-Depends:/ { on = 1; sub(/^Build-Depends:/, "") }
		on && /^[A-Z]/ && !/^Build-Depends:/ { on = 0 } on { printf "%s ", $0 }' \
		"$repo/debian/control" | sed 's/ *, *$//; s/  */ /g')
	if [[ $(id -u) != 0 ]]; then
		echo "SKIP: unmet build dependencies: $(cd "$repo" && dpkg-checkbuilddeps 2>&1 || true)"
		exit 77
	fi
	echo "== apt-get satisfy $deps"
	DEBIAN_FRONTEND=noninteractive apt-get satisfy -y --no-install-recommends "$deps" >/dev/null
fi

# --- a throw-away copy of the tree ---
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sevd-deb.XXXXXX")
if ((keep)); then
	echo "keeping $tmp"
else
	trap 'rm -rf "$tmp"' EXIT
fi
version=$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)
src=$tmp/src/sevd-$version
mkdir -p "$src"
if ((worktree)); then
	(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
		grep -zv '^build' | xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) |
		tar -xf - -C "$src"
else
	git -C "$repo" archive --format=tar HEAD | tar -xf - -C "$src"
fi
echo "== source: $( ((worktree)) && echo "working tree" || git -C "$repo" rev-parse --short HEAD) -> $src"

# --- build ---
tb=$(date +%s)
if ! (cd "$src" && dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1); then
	tail -n 60 "$tmp/build.log"
	echo "FAIL: dpkg-buildpackage failed (log above; --keep keeps $tmp/build.log)"
	exit 1
fi
build_s=$(($(date +%s) - tb))
echo "== dpkg-buildpackage: ${build_s}s"
ls "$tmp/src"/*.deb | sed 's|.*/|   |'

# --- unpack and check the file lists ---
root=$tmp/root
declare -A expect=(
	[sevd]="usr/bin/sevd
		lib/systemd/system/sevd.service
		lib/systemd/system/sevd.socket
		lib/systemd/system/sevd-tcp.socket
		usr/lib/sysusers.d/sevd.conf
		usr/lib/tmpfiles.d/sevd.conf
		usr/share/man/man8/sevd.8.gz
		usr/share/man/man5/sevd.conf.5.gz
		usr/share/doc/sevd/examples/sevd.conf
		usr/share/doc/sevd/openapi.yaml
		usr/share/doc/sevd/copyright"
	[sevadm]="usr/bin/sevadm
		usr/share/man/man1/sevadm.1.gz
		usr/share/bash-completion/completions/sevadm
		usr/share/zsh/vendor-completions/_sevadm
		usr/share/doc/sevadm/copyright"
	[sev-psp-emu]="usr/bin/sev-psp-emu
		usr/bin/sev-run
		lib/systemd/system/sev-psp-emu.service
		usr/share/man/man8/sev-psp-emu.8.gz
		usr/share/man/man1/sev-run.1.gz
		usr/share/sevd/sev-guest.bin
		usr/share/doc/sev-psp-emu/copyright"
)
for pkg in sevd sevadm sev-psp-emu; do
	deb=$(ls "$tmp/src/${pkg}_${version}_"*.deb 2>/dev/null || true)
	[[ -n $deb ]] || { problem "no package $pkg was built"; continue; }
	list=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./||')
	for f in ${expect[$pkg]}; do
		# Units may sit under /lib or /usr/lib, as the systemd of the build host says.
		alt=${f/#lib\//usr/lib/}
		grep -qxF -e "$f" -e "$alt" <<<"$list" || problem "$pkg lacks /$f"
	done
	dpkg -x "$deb" "$root"
	mkdir -p "$tmp/ctrl/$pkg"
	dpkg-deb -e "$deb" "$tmp/ctrl/$pkg"
	echo "   $pkg: $(grep -vc '/$' <<<"$list") files"
done

# Maintainer scripts: users before tmpfiles before units (debhelper's snippets).
post=$tmp/ctrl/sevd/postinst
if [[ -r $post ]]; then
	grep -q 'systemd-sysusers' "$post" || problem "sevd postinst does not run systemd-sysusers"
	grep -q 'systemd-tmpfiles' "$post" || problem "sevd postinst does not run systemd-tmpfiles"
	grep -q "deb-systemd-helper enable 'sevd.socket'" "$post" ||
		problem "sevd postinst does not enable sevd.socket"
	# The TCP socket: never enabled or started by the package (debhelper's --no-enable
	# snippet re-enables it only where the operator had it enabled before).
	tcp=$(awk '/^# Automatically added/ { b = "" } { b = b $0 "\n" } /^# End automatically/ &&
		b ~ /sevd-tcp.socket/ { printf "%s", b }' "$post")
	grep -q "debian-installed 'sevd-tcp.socket'" <<<"$tcp" ||
		problem "sevd postinst may enable sevd-tcp.socket on a new install"
	grep -q "deb-systemd-invoke.*sevd-tcp.socket" "$post" &&
		problem "sevd postinst starts sevd-tcp.socket"
	# Users exist before tmpfiles.d chowns the state directory to them.
	[[ $(grep -n 'systemd-sysusers' "$post" | head -1 | cut -d: -f1) -lt \
	   $(grep -n 'systemd-tmpfiles' "$post" | head -1 | cut -d: -f1) ]] ||
		problem "sevd postinst runs systemd-tmpfiles before systemd-sysusers"
else
	problem "sevd has no postinst (sysusers, tmpfiles, units)"
fi
[[ -r $tmp/ctrl/sevd/postrm ]] || problem "sevd has no postrm (unit cleanup on purge)"
# The emulator is for hosts without SEV hardware: never started just by installing it.
grep -qs "deb-systemd-invoke.*sev-psp-emu.service" "$tmp/ctrl/sev-psp-emu/postinst" &&
	problem "sev-psp-emu postinst starts sev-psp-emu.service"

# The shipped programs run from the unpacked root and carry the Debian paths.
for b in sevd sevadm sev-psp-emu sev-run; do
	"$root/usr/bin/$b" --help >/dev/null 2>&1 || problem "/usr/bin/$b --help fails in the unpacked root"
done
"$root/usr/bin/sevd" --help | grep '/etc/sevd/sevd.conf' >/dev/null || problem "sevd's default config is not /etc/sevd/sevd.conf"
"$root/usr/bin/sevd" --help | grep '/var/lib/sevd' >/dev/null || problem "sevd's default state dir is not /var/lib/sevd"
zcat "$root/usr/share/man/man5/sevd.conf.5.gz" | grep '^\.I /etc/sevd/sevd.conf' >/dev/null ||
	problem "sevd.conf(5) does not name /etc/sevd/sevd.conf"
grep -q '^u sevd ' "$root/usr/lib/sysusers.d/sevd.conf" || problem "sysusers.d/sevd.conf creates no sevd user"
# Never `... | grep -q` here: under pipefail, grep's early exit can kill the writer with SIGPIPE
# and fail the check, depending on timing (grep without -q reads all its input).
offered=$(bash -c "source '$root/usr/share/bash-completion/completions/sevadm'; COMP_WORDS=(sevadm '')
	COMP_CWORD=1; _sevadm; printf '%s\n' \"\${COMPREPLY[@]}\"")
grep -qx launch <<<"$offered" || problem "the installed bash completion does not offer 'launch'"

# --- lintian ---
changes=$(ls "$tmp/src"/*.changes)
lintian --info --display-level '>=pedantic' --tag-display-limit 0 "$changes" >"$tmp/lintian.txt" 2>&1 || true
for sev in E W I P; do
	printf '   lintian %s: %s\n' "$sev" "$(grep -c "^$sev: " "$tmp/lintian.txt" || true)"
done
grep -E '^(E|W): ' "$tmp/lintian.txt" | sed 's/^/   /' || true
grep -q '^E: ' "$tmp/lintian.txt" && problem "lintian reports errors"

echo "== ${build_s}s to build, $(($(date +%s) - t0))s in all; $fail problems"
((fail == 0))
