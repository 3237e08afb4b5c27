#!/bin/sh
# notifier postinstall: dpkg's postinst ("configure" [old version]) and
# rpm's %post (1 = install, 2 = upgrade). Safe to run again: it is how a
# state directory made before Pacemaker was installed gets fixed
# (`dpkg-reconfigure notifier`, `dnf reinstall notifier`).
set -e

case "$1" in
configure | 1 | 2) ;;
*) exit 0 ;; # abort-upgrade, abort-remove, ...: nothing was changed
esac

state=/var/lib/notifier

# Who writes the state (suppression, incidents, outbox, last good policies,
# the spool): CMON runs notifier as root; Pacemaker runs alert agents as
# hacluster, group haclient; the resident engine (notifier.service) runs
# as the system user notifier. Where haclient exists the directory is
# root:haclient 2770 and notifier's group is haclient; without it (CMON
# only) the user notifier has a group of its own, and the directory is
# root:notifier 2770. Group-writable so that the engine and hacluster can
# use what root made, setgid so everything created inside keeps the group
# (notifier makes its state files 0660).
if getent group haclient >/dev/null 2>&1; then
	group=haclient
else
	group=notifier
fi
mode=2770
nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/bin/false
if [ "$group" = notifier ] && ! getent group notifier >/dev/null 2>&1; then
	groupadd --system notifier
fi
if ! getent passwd notifier >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir "$state" --shell "$nologin" \
		--gid "$group" --comment "notifier engine" notifier
elif [ "$(id -gn notifier 2>/dev/null)" != "$group" ]; then
	# Pacemaker installed (or removed) since: the engine's group follows,
	# as the state directory's does below.
	usermod --gid "$group" notifier
fi

if [ -d "$state" ]; then
	was=$(stat -c %G "$state")
else
	was=$group
	mkdir -m 0700 "$state"
fi
# Made by another version, or before Pacemaker was installed: hand what
# was created there to the group, or hacluster and the engine cannot open
# the state file.
if [ "$was" != "$group" ]; then
	chgrp -hR "$group" "$state"
fi

# cache/ (last good policies, one per user), rejected/ (input that did
# not decode) and spool/ (the events invocations hand to the engine) are
# made here too: notifier makes them 0770 less the umask, which is 0750
# under systemd and CMON, so whoever ran first (root's flush timer,
# usually) would shut the other users out. spool/ must exist before
# notifier.socket starts: systemd would make it root's, 0755.
for d in "$state" "$state/cache" "$state/rejected" "$state/spool"; do
	[ -d "$d" ] || mkdir -m 0700 "$d"
	chown "root:$group" "$d"
	chmod "$mode" "$d"
done
# Sticky: root, hacluster and notifier each keep their policies in their
# own 0700 directory in cache/, which the others must not rename or remove.
chmod +t "$state/cache"

# The flush timer and the engine's wake-up socket. Not fatal anywhere:
# containers and CI have no systemd, and `systemctl mask` keeps either off
# across upgrades. Without the socket every invocation decides in-process.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	systemctl enable --now notifier-flush.timer ||
		echo "notifier: notifier-flush.timer not enabled; queued deliveries wait for \`notifier flush\`" >&2
	systemctl enable --now notifier.socket ||
		echo "notifier: notifier.socket not enabled; every event is decided by its own invocation" >&2
	# An engine still running the replaced binary finishes what it is
	# deciding and exits; the next event starts the new one.
	systemctl try-restart notifier.service || true
elif command -v systemctl >/dev/null 2>&1; then
	# No systemd running (an image being built, a chroot): enabled, they
	# start when the machine boots with systemd.
	systemctl enable notifier-flush.timer >/dev/null 2>&1 || true
	systemctl enable notifier.socket >/dev/null 2>&1 || true
fi
exit 0
