#!/usr/bin/env bash
# Installs the .deb for real, with dpkg and its maintainer scripts, and
# checks what it did, then purges it: the binaries run, the policy is a
# conffile that lints and survives a reinstall, the engine's system user
# notifier exists, /var/lib/notifier (and its spool/) is root:notifier
# 2770 without the haclient group and root:haclient 2770 with it (and
# hacluster and the engine's user can use the state root made before),
# the flush timer and the engine's socket are enabled, and remove and
# purge leave what dpkg policy says: remove keeps the conffile and the
# state, purge nothing but the system user.
#
#   sudo packaging/install-check.sh [DIST_DIR]     (default dist)
#
# Root only. It never changes this machine: dpkg runs chrooted in a
# copy-on-write overlay of / (in_overlay, checklib.sh), so it runs the same
# on a clean machine and on one where notifier is installed (purged in
# the overlay first). The overlay holds / only, so the timer is checked
# as a container has it (enabled offline), even on a systemd host.
set -uo pipefail
. "$(dirname "$0")/checklib.sh"

if [ "${1:-}" != --inside ]; then
	dist=${1:-dist}
	deb=$(ls "$dist"/notifier_*.deb 2>/dev/null)
	if [ "$(id -u)" -ne 0 ] || [ "$(printf '%s\n' "$deb" | grep -c .)" -ne 1 ]; then
		echo "usage: as root, with exactly one $dist/notifier_*.deb (found: ${deb:-none})" >&2
		exit 2
	fi
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir "$tmp/in"
	cp "$deb" "$(dirname "$0")/checklib.sh" "$tmp/in/"
	cp "$0" "$tmp/in/install-check.sh"
	if ! in_overlay "$tmp" bash "$tmp/in/install-check.sh" --inside "$tmp/in/$(basename "$deb")"; then
		echo "packaging/install-check.sh: FAILED"
		exit 1
	fi
	echo "packaging/install-check.sh: all checks passed"
	exit 0
fi

# Inside the overlay.
deb=$2
forget_notifier || exit 1
owner_mode() { stat -c '%U:%G %a' "$1"; }
status() { dpkg-query -W -f '${db:Status-Status}' notifier 2>/dev/null || echo not-installed; }

# install_deb [--no-haclient]: dpkg -i; asked, the maintainer scripts
# see no haclient group: a getent that denies it comes first in the PATH
# dpkg passes them. (Hiding the group from dpkg itself is no way: the
# statoverrides Pacemaker's packages register name it.)
install_deb() {
	if [ "${1:-}" = --no-haclient ]; then
		PATH="$tmp/no-haclient:$PATH" dpkg -i "$deb"
	else
		dpkg -i "$deb"
	fi </dev/null
}
tmp=$(mktemp -d)
mkdir "$tmp/no-haclient"
printf '%s\n' '#!/bin/sh' '[ "$1 $2" = "group haclient" ] && exit 2' 'exec /usr/bin/getent "$@"' >"$tmp/no-haclient/getent"
chmod +x "$tmp/no-haclient/getent"

if ! getent group haclient >/dev/null; then groupadd -r haclient; fi
hacluster=
if id hacluster >/dev/null 2>&1 && id -nG hacluster | grep -qw haclient; then hacluster=1; fi

# Where systemd runs, the timer and the socket are enabled and started;
# elsewhere (a container) postinstall enables them offline, as wants links.
# unit_enabled UNIT TARGET, unit_gone UNIT TARGET
unit_enabled() {
	if [ -d /run/systemd/system ]; then
		systemctl is-enabled "$1" && systemctl is-active "$1"
	else
		[ -L "/etc/systemd/system/$2.wants/$1" ]
	fi
}
unit_gone() {
	if [ -d /run/systemd/system ]; then
		! systemctl is-enabled "$1"
	else
		absent "/etc/systemd/system/$2.wants/$1"
	fi
}
timer_enabled() { unit_enabled notifier-flush.timer timers.target && unit_enabled notifier.socket sockets.target; }
timer_gone() { unit_gone notifier-flush.timer timers.target && unit_gone notifier.socket sockets.target; }

echo "== 1. fresh install, no haclient group (CMON only)"
check "dpkg -i $(basename "$deb")" install_deb --no-haclient
check "status installed" equal "$(status)" installed
check "notifier version runs" /usr/bin/notifier version
check "notifier-drop is installed" test -x /usr/bin/notifier-drop
check "notifier-engine is installed" test -x /usr/bin/notifier-engine
check "notifier lint /etc/notifier/notifier.yaml exits 0" /usr/bin/notifier lint /etc/notifier/notifier.yaml
check "/etc/notifier/notifier.yaml is a conffile" \
	grep -q '^ /etc/notifier/notifier.yaml ' <<<"$(dpkg-query -W -f '${Conffiles}\n' notifier)"
check "system user notifier: home /var/lib/notifier, group notifier" \
	equal "$(getent passwd notifier | cut -d: -f6) $(id -gn notifier)" "/var/lib/notifier notifier"
check "system user notifier: a system uid, no login shell" \
	sh -c '[ "$(id -u notifier)" -lt 1000 ] && getent passwd notifier | grep -qE ":(/usr/sbin/nologin|/bin/false)\$"'
for d in /var/lib/notifier /var/lib/notifier/cache /var/lib/notifier/rejected /var/lib/notifier/spool; do
	m=2770 && [ "$d" != /var/lib/notifier/cache ] || m=3770 # cache/ is sticky
	check "$d root:notifier $m" equal "$(owner_mode "$d")" "root:notifier $m"
done
if command -v systemctl >/dev/null; then check "flush timer and engine socket enabled" timer_enabled; fi
check "notifier status as the engine's user (healthy, no engine)" runuser -u notifier -- /usr/bin/notifier status
# The state as root makes it, before Pacemaker is installed (flush with
# nothing queued makes none; a silence does).
silence=(silence add --match 'cluster == "install-check"' --for 1m --comment packaging/install-check.sh)
check "notifier silence add as root" /usr/bin/notifier "${silence[@]}"
check "state.db made, root:notifier 660" equal "$(owner_mode /var/lib/notifier/state.db)" "root:notifier 660"
check "notifier silence list as the engine's user" runuser -u notifier -- /usr/bin/notifier silence list

echo "== 2. Pacemaker installed afterwards: reinstall with haclient, edited policy"
echo "# edited by ops" >>/etc/notifier/notifier.yaml
check "dpkg -i again (postinst configure)" install_deb
for d in /var/lib/notifier /var/lib/notifier/cache /var/lib/notifier/rejected /var/lib/notifier/spool; do
	m=2770 && [ "$d" != /var/lib/notifier/cache ] || m=3770 # cache/ is sticky
	check "$d root:haclient $m" equal "$(owner_mode "$d")" "root:haclient $m"
done
check "state.db handed to haclient" equal "$(owner_mode /var/lib/notifier/state.db)" "root:haclient 660"
check "the engine's user notifier joined haclient" equal "$(id -gn notifier)" haclient
check "notifier silence list as the engine's user" runuser -u notifier -- /usr/bin/notifier silence list
check "edited conffile kept" grep -qx '# edited by ops' /etc/notifier/notifier.yaml
if command -v systemctl >/dev/null; then check "flush timer and socket still enabled (prerm upgrade kept them)" timer_enabled; fi
if [ -n "$hacluster" ]; then
	# hacluster must be able to open the state root made, and keep its own
	# last good policy in cache/ after root's flush kept one there.
	check "notifier flush as root (umask 022)" sh -c 'umask 022; /usr/bin/notifier flush'
	check "notifier silence list as hacluster (opens the state)" runuser -u hacluster -- /usr/bin/notifier silence list
	check "hacluster's last good policy in cache/" \
		compgen -G "/var/lib/notifier/cache/$(id -u hacluster)/policy-*.lastgood"
else
	echo "SKIP runs as hacluster: no hacluster user in group haclient"
fi

echo "== 3. dpkg -r: the conffile and the state stay, the rest goes"
check "dpkg -r notifier" dpkg -r notifier
check "status config-files" equal "$(status)" config-files
for f in /usr/bin/notifier /usr/bin/notifier-drop /lib/systemd/system/notifier-flush.service \
	/lib/systemd/system/notifier-flush.timer /lib/systemd/system/notifier.socket /lib/systemd/system/notifier.service \
	/usr/share/doc/notifier; do
	check "$f removed" absent "$f"
done
check "/etc/notifier/notifier.yaml kept" test -f /etc/notifier/notifier.yaml
check "/var/lib/notifier kept" test -f /var/lib/notifier/state.db
if command -v systemctl >/dev/null; then check "flush timer and socket disabled" timer_gone; fi

echo "== 4. dpkg -P: nothing left"
check "dpkg -P notifier" dpkg -P notifier
check "status not-installed" equal "$(status)" not-installed
for f in /etc/notifier /var/lib/notifier /etc/systemd/system/timers.target.wants/notifier-flush.timer \
	/etc/systemd/system/sockets.target.wants/notifier.socket; do
	check "$f removed" absent "$f"
done
check "the system user notifier stays (Debian's advice)" getent passwd notifier

echo "== 5. fresh install with haclient (Pacemaker first)"
forget_notifier_user
check "dpkg -i $(basename "$deb")" install_deb
check "system user notifier in group haclient" equal "$(id -gn notifier)" haclient
for d in /var/lib/notifier /var/lib/notifier/cache /var/lib/notifier/rejected /var/lib/notifier/spool; do
	m=2770 && [ "$d" != /var/lib/notifier/cache ] || m=3770 # cache/ is sticky
	check "$d root:haclient $m" equal "$(owner_mode "$d")" "root:haclient $m"
done
if [ -n "$hacluster" ]; then
	check "notifier silence add as hacluster first" runuser -u hacluster -- /usr/bin/notifier "${silence[@]}"
	check "state.db hacluster:haclient 660" equal "$(owner_mode /var/lib/notifier/state.db)" "hacluster:haclient 660"
	check "root can use hacluster's state" /usr/bin/notifier silence list
fi
check "dpkg -P notifier" dpkg -P notifier
for f in /usr/bin/notifier /etc/notifier /var/lib/notifier; do
	check "$f removed" absent "$f"
done

exit $failed
