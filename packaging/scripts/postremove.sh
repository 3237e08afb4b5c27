#!/bin/sh
# notifier postremove: dpkg's postrm ("remove", "purge", "upgrade" <new>,
# ...) and rpm's %postun (0 = erase, 1 = upgrade).
set -e

case "$1" in
remove | purge | 0)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
	;;
esac

# Purge (dpkg -P) removes everything notifier kept: the state (incidents,
# outbox, silences, history), the spool and its caches. The system user
# notifier stays, as Debian's policy advises (files it owned elsewhere,
# a backup restored later, must not fall to a reused uid). A plain remove, and rpm -e,
# which has no purge, leave it, as they leave /etc/notifier's edited
# policy: a reinstall carries on where it stopped.
if [ "$1" = purge ]; then
	rm -rf /var/lib/notifier
fi
exit 0
