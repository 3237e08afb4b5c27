#!/bin/sh
# notifier preremove: dpkg's prerm ("remove", "upgrade" <new>, ...) and
# rpm's %preun (0 = erase, 1 = upgrade). Only a real removal stops and
# disables the flush timer and the engine (its socket first, so that no
# event starts it again); an upgrade keeps them as the admin left them.
# A stopped engine leaves what it had not decided in the spool, which
# stays (purge removes it).
set -e

case "$1" in
remove | 0) ;;
*) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
	systemctl disable --now notifier-flush.timer >/dev/null 2>&1 || true
	systemctl stop notifier-flush.service >/dev/null 2>&1 || true
	systemctl disable --now notifier.socket >/dev/null 2>&1 || true
	systemctl stop notifier.service >/dev/null 2>&1 || true
elif command -v systemctl >/dev/null 2>&1; then
	# Enabled offline by postinstall: no dangling .wants links.
	systemctl disable notifier-flush.timer >/dev/null 2>&1 || true
	systemctl disable notifier.socket >/dev/null 2>&1 || true
fi
exit 0
