# Sourced by the tests/scripts tests: a temp dir removed at exit, and check DESCRIPTION COMMAND...
# which counts a check and fails the test, naming it, when COMMAND fails.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checks=0
check() {
	checks=$((checks + 1))
	if ! "${@:2}"; then
		echo "check failed: $1" >&2
		exit 1
	fi
}
