#!/bin/sh
# notifier preremove: dpkg's prerm ("remove", "upgrade" <new>, ...) and
# rpm's %preun (0 = erase, 1 = upgrade). Only a real removal stops and
# disables the flush timer; an upgrade keeps it as the admin left it.
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
	systemctl disable --now notifier-flush.timer >/dev/null 2>&1 || true
	systemctl stop notifier-flush.service >/dev/null 2>&1 || true
elif command -v systemctl >/dev/null 2>&1; then
	# Enabled offline by postinstall: no dangling timers.target.wants link.
	systemctl disable notifier-flush.timer >/dev/null 2>&1 || true
fi
exit 0
