#!/bin/bash
# The manuals match the programs: every verb of `sevadm --help` has a section (.SS VERB) in
# sevadm.1 and every flag of `sevadm VERB --help` (and of each `sevadm VERB SUB --help`)
# appears in that section; every flag of `sevd --help`, `sev-psp-emu --help` and
# `sev-run --help` appears in its page; sevd.conf.5 has an entry (.TP tag) for every key
# sevd's config parser accepts, read from the table in daemon/sevd-config.c (and, for
# its "policy." keys, from policy/admission.c); sevd.8 names every error code of
# daemon/openapi.yaml. Each missing item is printed; exit 1 if any.
# Needs SEVD_SOURCE_ROOT and SEVADM_EXE, SEVD_EXE, SEV_PSP_EMU_EXE, SEV_RUN_EXE.
set -u
src=${SEVD_SOURCE_ROOT:?}
man=$src/man
missing=0 checked=0

fail() { echo "MISSING: $*"; missing=$((missing + 1)); }

for v in SEVADM_EXE SEVD_EXE SEV_PSP_EMU_EXE SEV_RUN_EXE; do
	[[ -x ${!v:-} ]] || { echo "FAIL: \$$v is not set to a program"; exit 1; }
done

# A page as plain text: troff's \- as -, font escapes and quotes dropped.
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(bv/|/g' -e 's/\\&//g' -e 's/"//g' "$1"; }

# Long flags (--x-y) and listed short aliases (-f, in "-f, --force") of a help text.
flags_of() {
	local t
	t=$(cat)
	grep -oE -- '(^|[^a-zA-Z0-9-])--[a-z0-9][a-z0-9-]*' <<<"$t" | sed -E 's/^[^-]*--/--/'
	grep -oE -- '(^|[ (])-[a-zA-Z],' <<<"$t" | tr -d ' (,'
}

# The body of `.SS VERB` up to the next .SS or .SH, as plain text.
section() {
	plain "$man/sevadm.1.in" | awk -v v="$1" '
		/^\.S[SH] / { on = ($1 == ".SS" && $2 == v) ; next }
		on { print }'
}

has_flag() { grep -qE -- "(^|[^a-zA-Z0-9-])$1([^a-zA-Z0-9-]|\$)"; }

# --- sevadm: verbs and their flags ---
verbs=$("$SEVADM_EXE" --help | awk '/^Commands|^Guest-owner commands/ { on = 1; next }
	/^$/ { on = 0 } on && /^  [a-z]/ { print $1 }')
[[ -n $verbs ]] || { echo "FAIL: no verbs found in 'sevadm --help'"; exit 1; }
for verb in $verbs; do
	checked=$((checked + 1))
	body=$(section "$verb")
	if [[ -z $body ]]; then
		fail "sevadm.1: no section '.SS $verb'"
		continue
	fi
	help_text=$("$SEVADM_EXE" "$verb" --help 2>&1)
	texts=("$help_text") labels=("$verb")
	# Subcommands named in the usage lines ("sevadm verify chain ...", "build|verify").
	subs=$(grep -oE "sevadm $verb [a-z][a-z|-]*" <<<"$help_text" | awk '{ print $3 }' | tr '|' '\n' | sort -u)
	for sub in $subs; do
		t=$("$SEVADM_EXE" "$verb" "$sub" --help 2>/dev/null) && [[ $t != "$help_text" ]] &&
			texts+=("$t") labels+=("$verb $sub")
	done
	for i in "${!texts[@]}"; do
		for f in $(flags_of <<<"${texts[i]}" | sort -u); do
			[[ $f == -h || $f == --help ]] && continue
			checked=$((checked + 1))
			has_flag "$f" <<<"$body" ||
				fail "sevadm.1: section '$verb' lacks $f (sevadm ${labels[i]} --help)"
		done
	done
done
echo "sevadm: $(wc -w <<<"$verbs") verbs checked"

# --- sevd, sev-psp-emu, sev-run: every flag of --help in the page ---
check_page() {
	local exe=$1 page=$2 text f help_text
	help_text=$("$exe" --help 2>&1)
	text=$(plain "$man/$page.in")
	for f in $(flags_of <<<"$help_text" | sort -u); do
		checked=$((checked + 1))
		has_flag "$f" <<<"$text" || fail "$page: lacks $f ($(basename "$exe") --help)"
	done
}
check_page "$SEVD_EXE" sevd.8
check_page "$SEV_PSP_EMU_EXE" sev-psp-emu.8
check_page "$SEV_RUN_EXE" sev-run.1

# --- sevd.8: every error code of the API (openapi.yaml's error schema) is explained ---
codes=$(awk '/"code": \{/ { on = 1 } on && /"enum"/ { e = 1; next } on && e && /\]/ { exit }
	on && e { gsub(/[ ",]/, ""); print }' "$src/daemon/openapi.yaml")
[[ -n $codes ]] || { echo "FAIL: no error codes found in daemon/openapi.yaml"; exit 1; }
text=$(plain "$man/sevd.8.in")
for c in $codes; do
	checked=$((checked + 1))
	grep -qE "(^|[^a-z_])$c([^a-z_]|\$)" <<<"$text" || fail "sevd.8: error code '$c' (openapi.yaml) is not explained"
done

# --- sevd.conf.5: every key of the parser has a .TP entry ---
# The rows of config_keys[] (`KIND("key", ...)`) and the prefix keys sevd_config_set() adds.
keys=$(sed -n '/^static const struct config_key config_keys\[\]/,/^};/p' "$src/daemon/sevd-config.c" |
	grep -oE '^\s*[A-Z]+\("[a-z_]+"' | sed -E 's/.*"(.*)"/\1/')
[[ -n $keys ]] || { echo "FAIL: no keys found in daemon/sevd-config.c config_keys[]"; exit 1; }
keys+=" "$(sed -n '/^int sevd_config_set(/,/^}/p' "$src/daemon/sevd-config.c" |
	grep -oE 'strncmp\(key, "[a-z_.]+\."' | sed -E 's/.*"(.*)"/\1/')
# A prefix key ("policy.") hands the rest of the key to the admission rules
# (policy_rules_set in policy/admission.c): check each rule under the prefix.
for k in $keys; do
	[[ $k == *. ]] || continue
	keys=$(tr ' ' '\n' <<<"$keys" | grep -vxF "$k")
	rules=$(sed -n '/^int policy_rules_set(/,/^}/p' "$src/policy/admission.c" |
		grep -oE '(\{ |strn?cmp\(key, )"[a-z_.]+"' | sed -E 's/.*"(.*)"/\1/')
	[[ -n $rules ]] || { echo "FAIL: no rules found in policy/admission.c policy_rules_set()"; exit 1; }
	for r in $rules; do keys+=" $k$r"; done
done
tags=$(plain "$man/sevd.conf.5.in" | awk 'prev == ".TP" { print } { prev = $0 }')
for k in $keys; do
	checked=$((checked + 1))
	grep -qE "(^|[^a-z_.])${k//./\\.}([^a-z_]|\$)" <<<"$tags" ||
		fail "sevd.conf.5: no entry for key '$k' (daemon/sevd-config.c)"
done
echo "sevd.conf: $(wc -w <<<"$keys") keys checked"

echo "$checked items checked, $missing missing"
((missing == 0))
