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

# in_overlay DIR COMMAND...: runs COMMAND as root chrooted in a copy-on-write
# overlay of / inside a private mount namespace, and returns its exit code.
# Every write lands in DIR/up: nothing on this machine changes, and the
# caller deletes DIR. DIR/in is visible inside at its own path, for what
# the command needs from outside (the package, the scripts). The overlay
# holds / only: /run, /tmp and the like are whatever the root file system
# has under them, so a systemd host looks like a container in there.
in_overlay() {
	local t=$1
	shift
	mkdir -p "$t/up" "$t/work" "$t/root" "$t/in"
	unshare -m sh -c '
		set -e
		t=$1
		shift
		mount --make-rprivate /
		mount -t overlay overlay -o "lowerdir=/,upperdir=$t/up,workdir=$t/work" "$t/root"
		mount -t proc proc "$t/root/proc"
		mount --rbind /dev "$t/root/dev"
		mkdir -p "$t/root$t/in"
		mount --bind "$t/in" "$t/root$t/in"
		: >"$t/root/.notifier-check-overlay"
		exec chroot "$t/root" "$@"
	' - "$t" "$@"
}

# forget_notifier: inside in_overlay only, makes the copy look like a
# machine notifier was never installed on: a notifier installed here is
# purged, in the copy, with whatever it left.
forget_notifier() {
	[ -e /.notifier-check-overlay ] || { echo "forget_notifier: not inside in_overlay, refusing" >&2; return 2; }
	if dpkg-query -W -f '${db:Status-Status}' notifier 2>/dev/null | grep -qv '^not-installed$'; then
		echo "(notifier is installed on this machine: purged in the overlay first)"
		dpkg -P notifier >/dev/null
	fi
	rm -rf /etc/notifier /var/lib/notifier /usr/bin/notifier /etc/systemd/system/timers.target.wants/notifier-flush.timer
}
