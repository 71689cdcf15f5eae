#!/bin/bash
# The bash completion (completions/sevadm) offers exactly the verbs of `sevadm --help`, the
# subcommands named in each verb's usage, and every flag of `sevadm VERB [SUB] --help` after
# "VERB [SUB] -". It is run as bash runs it: source the file, set COMP_WORDS/COMP_CWORD, call
# _sevadm, read COMPREPLY. The zsh completion lists the same verbs and parses.
# Needs SEVD_SOURCE_ROOT and SEVADM_EXE. With --zsh-parse only zsh's own parse of _sevadm runs
# (the test case docs-completion-zsh, which SKIPs with the reason, exit 77, where zsh is not
# installed), so the count says whether it ran.
set -u
if [[ ${1:-} == --zsh-parse ]]; then
	zcomp=${SEVD_SOURCE_ROOT:?}/completions/_sevadm
	command -v zsh >/dev/null || { echo "SKIP: zsh is not installed (scripts/deps test installs it)"; exit 77; }
	[[ -r $zcomp ]] || { echo "FAIL: $zcomp is missing"; exit 1; }
	zsh -n "$zcomp" || { echo "ZSH: _sevadm does not parse"; exit 1; }
	echo "_sevadm parses in zsh"
	exit 0
fi
comp=${SEVD_SOURCE_ROOT:?}/completions/sevadm
[[ -x ${SEVADM_EXE:-} ]] || { echo "FAIL: \$SEVADM_EXE is not set to a program"; exit 1; }
[[ -r $comp ]] || { echo "FAIL: $comp is missing"; exit 1; }
bad=0 checked=0

# complete WORD... : the candidates bash would offer for the last word.
complete_words() {
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sevadm
		printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@" | sort -u
}

help_verbs=$("$SEVADM_EXE" --help | awk '/^Commands|^Guest-owner commands/ { on = 1; next }
	/^$/ { on = 0 } on && /^  [a-z]/ { print $1 }' | sort -u)
[[ -n $help_verbs ]] || { echo "FAIL: no verbs found in 'sevadm --help'"; exit 1; }
offered=$(complete_words sevadm "")
while read -r v; do
	echo "MISSING: the completion does not offer verb '$v' (in sevadm --help)"; bad=$((bad + 1))
done < <(comm -23 <(echo "$help_verbs") <(echo "$offered"))
while read -r v; do
	[[ -z $v ]] && continue
	echo "EXTRA: the completion offers '$v', which sevadm --help does not list"; bad=$((bad + 1))
done < <(comm -13 <(echo "$help_verbs") <(echo "$offered"))
checked=$((checked + $(wc -l <<<"$help_verbs")))

# The flags a help text gives its command: those of the usage block (from "Usage:" to the
# first blank line) and of the option lines (indented at most 4 spaces, starting with '-').
# Flags of other commands quoted in the prose ("'sevadm export --full'") are not its own.
flags_of() {
	awk '/^Usage:/ { u = 1 } u && /^$/ { u = 0 } u || /^ {1,4}-/' |
		grep -oE -- '(^|[^a-zA-Z0-9-])--?[a-zA-Z0-9][a-z0-9-]*' | sed -E 's/^[^-]*-/-/' |
		grep -vxE -- '-h|--help|-[0-9a-zA-Z]*[A-Z0-9][a-zA-Z0-9]*' | sort -u
}

for verb in $help_verbs; do
	help_text=$("$SEVADM_EXE" "$verb" --help 2>&1)
	subs=$(grep -oE "sevadm $verb [a-z|]+" <<<"$help_text" | awk '{ print $3 }' | tr '|' '\n' | sort -u)
	if [[ -n $subs ]]; then
		got=$(complete_words sevadm "$verb" "")
		for s in $subs; do
			checked=$((checked + 1))
			grep -qx -- "$s" <<<"$got" || { echo "MISSING: 'sevadm $verb <TAB>' lacks '$s'"; bad=$((bad + 1)); }
		done
	fi
	# "VERB -" offers every flag of the verb's help; "VERB SUB -" those of the subcommand's
	# own help, where it has one (one that differs from the verb's).
	for sub in "" $subs; do
		if [[ -n $sub ]]; then
			t=$("$SEVADM_EXE" "$verb" "$sub" --help 2>/dev/null) || continue
			[[ $t == "$help_text" ]] && continue
			words=(sevadm "$verb" "$sub" -)
		else
			t=$help_text
			words=(sevadm "$verb" -)
		fi
		got=$(complete_words "${words[@]}")
		for f in $(flags_of <<<"$t"); do
			checked=$((checked + 1))
			grep -qx -- "$f" <<<"$got" ||
				{ echo "MISSING: '${words[*]}<TAB>' lacks $f"; bad=$((bad + 1)); }
		done
	done
done

# Global options.
got=$(complete_words sevadm -)
for f in $("$SEVADM_EXE" --help | flags_of); do
	checked=$((checked + 1))
	grep -qx -- "$f" <<<"$got" || { echo "MISSING: 'sevadm -<TAB>' lacks $f"; bad=$((bad + 1)); }
done

# zsh (completions/_sevadm): its verb list is the same (its parse: --zsh-parse, above).
zcomp=${SEVD_SOURCE_ROOT}/completions/_sevadm
if [[ -r $zcomp ]]; then
	zverbs=$(sed -n "/verbs=(/,/^\t)/p" "$zcomp" | grep -oE "^[[:space:]]+'[a-z-]+:" | tr -d " \t':" | sort -u)
	while read -r v; do
		[[ -z $v ]] && continue
		echo "ZSH: _sevadm: verb '$v' $( grep -qx -- "$v" <<<"$help_verbs" && echo "missing" || echo "not in sevadm --help")"
		bad=$((bad + 1))
	done < <(comm -3 <(echo "$help_verbs") <(echo "$zverbs") | tr -d '\t')
	checked=$((checked + 1)) # its parse: the case docs-completion-zsh (--zsh-parse)
else
	echo "ZSH: $zcomp is missing"; bad=$((bad + 1))
fi

echo "$checked items checked, $bad wrong"
((bad == 0))
