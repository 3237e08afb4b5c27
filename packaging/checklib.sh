# checklib.sh — the PASS/FAIL helpers the packaging checks share; sourced, not run.
# A script sets nothing first and tests $failed at its end.
failed=0
pass() { printf 'PASS %s\n' "$1"; }
fail() {
	printf 'FAIL %s\n' "$1"
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/     /'
	failed=1
}
# check NAME COMMAND...: PASS when COMMAND succeeds, else FAIL with its output.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}
equal() { [ "$1" = "$2" ] || { echo "got \"$1\", want \"$2\""; return 1; }; }
absent() { [ ! -e "$1" ] && [ ! -L "$1" ] || { ls -ld "$1"; return 1; }; }
