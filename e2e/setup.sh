#!/bin/bash
# setup.sh — what the end-to-end tests need on a Debian machine, installed for real: Pacemaker,
# corosync, the resource and fence agents, rsyslog and redis-server from Debian (and lintian, rpm
# and cpio, which the package checks use), and notifier
# itself from the .deb that `make package` builds (so the e2e tests the package). Run as root;
# idempotent. Package scripts are kept from starting daemons: the tests start their own.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "e2e/setup.sh: must run as root" >&2; exit 1; }
PKGS="pacemaker pacemaker-cli-utils corosync resource-agents fence-agents rsyslog redis-server rpm rpm2cpio cpio lintian"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "e2e/setup.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT   # whatever happens below
    fi
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    ok=0
    for attempt in 1 2 3; do
        if apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/tmp/e2e-apt.log 2>&1; then
            ok=1; break
        fi
        echo "e2e/setup.sh: apt-get install failed (attempt $attempt), see /tmp/e2e-apt.log" >&2
        dpkg --configure -a >/dev/null 2>&1 || true
        sleep 3
    done
    [ $ok = 1 ] || { tail -20 /tmp/e2e-apt.log >&2; exit 1; }
fi
# Daemons this script just installed may have been started by their packages where policy-rc.d
# is not honoured: those are stopped (the tests run their own). A cluster or rsyslog that was
# running before is never touched: cluster.sh refuses to run beside a cluster it did not start,
# and the tests move a syslog daemon's /dev/log aside for the run and put it back.
for svc in pacemaker corosync rsyslog; do
    case " $missing " in *" $svc "*) ;; *) continue ;; esac
    if command -v service >/dev/null && service "$svc" status >/dev/null 2>&1; then
        service "$svc" stop >/dev/null 2>&1 || true
    fi
done
make package   # builds, and inspects both packages (packaging/check.sh)
deb=$(ls -t dist/notifier_*.deb | head -1)
# Install, reinstall, remove and purge for real, dpkg and rpm with their scripts, in overlays of /
# that leave this machine as it was (so they run the same whether notifier is installed here).
packaging/install-check.sh
packaging/rpm-install-check.sh
dpkg -i "$deb"
echo "e2e/setup.sh: installed $deb: $(notifier version)"
