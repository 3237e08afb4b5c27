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
# overlay of / inside private mount and PID namespaces, and returns its exit
# code. Every write to files lands in a tmpfs that goes with the namespace:
# no file on this machine changes (/dev and /proc/sys are the machine's own,
# the network too; the package scripts do not touch them), and whatever the
# command leaves running is killed with it. DIR/in is visible inside at its
# own path, for what the command needs from outside (the package, the
# scripts); the caller deletes DIR. The overlay holds the root file system
# only: where /usr, /var or /etc are file systems of their own, it refuses.
in_overlay() {
	local t=$1 m
	shift
	for m in /etc /usr /var /var/lib; do
		if [ "$(findmnt -n -o TARGET --target "$m")" != / ]; then
			echo "in_overlay: $m is a file system of its own; the overlay holds / only, so this check cannot run here" >&2
			return 2
		fi
	done
	mkdir -p "$t/in" "$t/s"
	unshare -m -p -f sh -c '
		set -e
		t=$1
		shift
		mount --make-rprivate /
		mount -t tmpfs -o mode=0700 notifier-check "$t/s"
		mkdir "$t/s/up" "$t/s/work" "$t/s/root"
		r=$t/s/root
		mount -t overlay overlay -o "lowerdir=/,upperdir=$t/s/up,workdir=$t/s/work" "$r"
		mount -t proc proc "$r/proc"
		mount --rbind /dev "$r/dev"
		mkdir -p "$r$t/in"
		mount --bind "$t/in" "$r$t/in"
		: >"$r/.notifier-check-overlay"
		exec chroot "$r" "$@"
	' - "$t" "$@"
}

# forget_notifier: inside in_overlay only, makes the copy look like a
# machine notifier was never installed on: a notifier installed here (by
# dpkg, or by rpm) is removed, in the copy, with whatever it left.
forget_notifier() {
	[ -e /.notifier-check-overlay ] || { echo "forget_notifier: not inside in_overlay, refusing" >&2; return 2; }
	if dpkg-query -W -f '${db:Status-Status}' notifier 2>/dev/null | grep -qv '^not-installed$'; then
		echo "(notifier is installed on this machine: purged in the overlay first)"
		dpkg -P notifier >/dev/null || { echo "forget_notifier: dpkg -P notifier failed in the overlay" >&2; return 1; }
	fi
	if command -v rpm >/dev/null && rpm -q notifier >/dev/null 2>&1; then
		echo "(notifier is installed here by rpm: erased in the overlay first)"
		rpm -e --nodeps notifier || { echo "forget_notifier: rpm -e notifier failed in the overlay" >&2; return 1; }
	fi
	rm -rf /etc/notifier /var/lib/notifier /usr/bin/notifier /usr/bin/notifier-drop /usr/bin/notifier-engine \
		/etc/systemd/system/timers.target.wants/notifier-flush.timer /etc/systemd/system/sockets.target.wants/notifier.socket
	forget_notifier_user
}

# forget_notifier_user: inside in_overlay only, removes the engine's system
# user and its own group, which purge leaves.
forget_notifier_user() {
	[ -e /.notifier-check-overlay ] || { echo "forget_notifier_user: not inside in_overlay, refusing" >&2; return 2; }
	if getent passwd notifier >/dev/null; then userdel notifier || return 1; fi
	if getent group notifier >/dev/null; then groupdel notifier || return 1; fi
}
