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

# Who writes the state (suppression, incidents, outbox, last good policies):
# CMON runs notifier as root; Pacemaker runs alert agents as hacluster,
# group haclient. Where that group exists the directory is root:haclient
# 2770: group-writable for hacluster, setgid so everything created inside
# keeps the group (notifier makes its state files 0660). Without it only
# root runs notifier, and nobody else needs to read the alarms: 0750.
if getent group haclient >/dev/null 2>&1; then
	group=haclient mode=2770
else
	group=root mode=0750
fi

if [ -d "$state" ]; then
	was=$(stat -c %G "$state")
else
	was=$group
	mkdir -m 0700 "$state"
fi
# Made before Pacemaker was installed (root:root, only root could write
# in it): hand what root created there to haclient too, or hacluster
# cannot open the state file.
if [ "$was" = root ] && [ "$group" = haclient ]; then
	chgrp -hR haclient "$state"
fi

# cache/ (last good policies, one per user) and rejected/ (input that did
# not decode) are made here too: notifier makes them 0770 less the umask,
# which is 0750 under systemd and CMON, so whoever ran first (root's
# flush timer, usually) would shut the other user out.
for d in "$state" "$state/cache" "$state/rejected"; do
	[ -d "$d" ] || mkdir -m 0700 "$d"
	chown "root:$group" "$d"
	chmod "$mode" "$d"
	[ "$mode" = 2770 ] || chmod g-s "$d" # GNU chmod keeps a directory's setgid
done
# Sticky: root and hacluster each keep their policies in their own 0700
# directory in cache/, which the other must not rename or remove.
if [ "$mode" = 2770 ]; then chmod +t "$state/cache"; fi

# The flush timer. Not fatal anywhere: containers and CI have no systemd,
# and `systemctl mask notifier-flush.timer` keeps it off across upgrades.
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	systemctl enable --now notifier-flush.timer ||
		echo "notifier: notifier-flush.timer not enabled; queued deliveries wait for \`notifier flush\`" >&2
elif command -v systemctl >/dev/null 2>&1; then
	# No systemd running (an image being built, a chroot): enabled, it
	# starts when the machine boots with systemd.
	systemctl enable notifier-flush.timer >/dev/null 2>&1 || true
fi
exit 0
