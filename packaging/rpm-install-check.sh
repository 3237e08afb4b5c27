#!/usr/bin/env bash
# Installs the .rpm for real, with rpm and its scriptlets, and checks what
# it did, without changing this machine: rpm runs chrooted in a
# copy-on-write overlay of / (in_overlay, checklib.sh), so every
# write lands in a tmpfs that goes with it.
# It is how the .rpm is tested on a Debian machine (rpm from apt);
# --nodeps because rpm's database there knows no /bin/sh. A notifier
# installed here (the .deb) is purged in the overlay first.
#
#   sudo packaging/rpm-install-check.sh [DIST_DIR]     (default dist)
#
# Needs root, unshare, overlayfs and rpm. Exit 1 when a check failed.
set -uo pipefail
. "$(dirname "$0")/checklib.sh"

dist=${1:-dist}
rpmfile=$(ls "$dist"/notifier-*.rpm 2>/dev/null)
if [ "$(id -u)" -ne 0 ] || [ "$(printf '%s\n' "$rpmfile" | grep -c .)" -ne 1 ] || ! command -v rpm >/dev/null; then
	echo "usage: as root, with rpm installed and exactly one $dist/notifier-*.rpm (found: ${rpmfile:-none})" >&2
	exit 2
fi
rpmfile=$(realpath "$rpmfile")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/in"
cp "$rpmfile" "$tmp/in/notifier.rpm"
cp "$(dirname "$0")/checklib.sh" "$tmp/in/checklib.sh"

# What runs inside the overlay root.
cat >"$tmp/in/inside.sh" <<'EOF'
set -uo pipefail
. "$(dirname "$0")/checklib.sh"
forget_notifier || exit 1
if getent group haclient >/dev/null; then group=haclient; else group=notifier; fi
want="root:$group 2770"

check "rpm -i --nodeps (scriptlets run)" rpm -i --nodeps "$RPM"
check "rpm -q notifier" rpm -q notifier
check "notifier version runs" /usr/bin/notifier version
check "notifier-drop is installed" test -x /usr/bin/notifier-drop
check "system user notifier in group $group" equal "$(id -gn notifier)" "$group"
check "notifier lint /etc/notifier/notifier.yaml exits 0" /usr/bin/notifier lint /etc/notifier/notifier.yaml
check "rpm -qc lists the policy" equal "$(rpm -qc notifier)" /etc/notifier/notifier.yaml
for u in notifier-flush.timer notifier-flush.service notifier.socket notifier.service; do
	check "$u in /usr/lib/systemd/system" test -f "/usr/lib/systemd/system/$u"
done
for d in /var/lib/notifier /var/lib/notifier/cache /var/lib/notifier/rejected /var/lib/notifier/spool; do
	w=$want && [ "$d" != /var/lib/notifier/cache ] || w=${want/2770/3770} # cache/ is sticky
	check "$d $w" equal "$(stat -c '%U:%G %a' "$d")" "$w"
done
if [ ! -d /run/systemd/system ] && command -v systemctl >/dev/null; then
	check "flush timer enabled (offline)" test -L /etc/systemd/system/timers.target.wants/notifier-flush.timer
	check "engine socket enabled (offline)" test -L /etc/systemd/system/sockets.target.wants/notifier.socket
fi
check "rpm -V notifier (files as packaged)" rpm -V --nodeps notifier

echo "# edited" >>/etc/notifier/notifier.yaml
check "rpm -e notifier" rpm -e notifier
check "binary removed" absent /usr/bin/notifier
check "edited policy kept as .rpmsave" grep -qx '# edited' /etc/notifier/notifier.yaml.rpmsave
check "flush timer link removed" absent /etc/systemd/system/timers.target.wants/notifier-flush.timer
check "engine socket link removed" absent /etc/systemd/system/sockets.target.wants/notifier.socket
check "/var/lib/notifier kept (rpm has no purge)" test -d /var/lib/notifier
exit $failed
EOF

in_overlay "$tmp" env RPM="$tmp/in/notifier.rpm" bash "$tmp/in/inside.sh"
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "packaging/rpm-install-check.sh: FAILED"
	exit 1
fi
echo "packaging/rpm-install-check.sh: all checks passed"
