#!/bin/bash
# cluster.sh up|down — a real single-node Pacemaker 2.1 + corosync 3 cluster on 127.0.0.1, for
# the end-to-end tests. No systemd needed: the daemons run in the background with the clean
# environment systemd would give them, and `down` stops exactly the processes `up` started (by
# recorded PID), never anything by name.
#
#   E2E_CLUSTER_DIR   state: pids, corosync.conf, logs             (required)
#   E2E_ALERTS_XML    file holding the complete <alerts> section    (up)
#   E2E_RESOURCES_XML file holding <resources> children, may be empty (up)
#   E2E_STONITH       stonith-enabled                               [false]
#   E2E_PACEMAKER_DEFAULTS  sourced before pacemakerd starts  [/etc/default/pacemaker]
#
# `up` refuses to run beside cluster daemons it did not start. It wipes and seeds the CIB, so it
# is for test machines only.
set -euo pipefail
DIR=${E2E_CLUSTER_DIR:?E2E_CLUSTER_DIR is required}
NODE=$(uname -n)
CIB_DIR=/var/lib/pacemaker/cib
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
DAEMONS="corosync pacemakerd pacemaker-based pacemaker-controld pacemaker-execd pacemaker-fenced pacemaker-attrd pacemaker-schedulerd"

# alive PID COMM: running, not a zombie, and still the same program.
alive() {
    [ -n "${1:-}" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}
# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
    local until=$(( $(date +%s) + $1 )); shift
    until "$@"; do
        [ "$(date +%s)" -lt "$until" ] || return 1
        sleep 0.2
    done
}
gone() { ! alive "$1" "$2"; }
# running PID: the process exists and has not exited (a zombie has).
running() {
    [ -n "${1:-}" ] && [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}
# execed PID COMM: the process started as `setsid env ... sh -c '...; exec COMM'` is COMM now.
# Until the last exec its name is setsid, env or sh: not yet, not dead. One that exited is an
# error (status 2), not a reason to keep waiting.
execed() {
    running "$1" || return 2
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}
# wait_exec SECONDS PID COMM: until PID is COMM; fails at once when it exits.
wait_exec() {
    local until=$(( $(date +%s) + $1 )) rc
    while :; do
        rc=0; execed "$2" "$3" || rc=$?
        [ $rc = 0 ] && return 0
        [ $rc = 2 ] && return 2
        [ "$(date +%s)" -lt "$until" ] || return 1
        sleep 0.1
    done
}

# The shared Pacemaker log: on failure only this run's lines are shown (from its size at start).
PCMK_LOG=/var/log/pacemaker/pacemaker.log
log_from=0
this_run_log() {
    [ -f "$PCMK_LOG" ] || return 0
    if [ "$(stat -c %s "$PCMK_LOG")" -lt "$log_from" ]; then
        cat "$PCMK_LOG"   # rotated since: all of it is this run's
    else
        tail -c +"$((log_from + 1))" "$PCMK_LOG"
    fi
}

down() {
    if [ -f "$DIR/pacemakerd.pid" ]; then
        local p; p=$(cat "$DIR/pacemakerd.pid")
        if alive "$p" pacemakerd; then
            kill -TERM "$p"   # stops the resources, then its children, in order
            wait_for 120 gone "$p" pacemakerd || kill -KILL "$p" 2>/dev/null || true
        fi
        if [ -f "$DIR/children.pids" ]; then
            while read -r cpid cname; do
                alive "$cpid" "$cname" || continue
                kill -TERM "$cpid" 2>/dev/null || true
                wait_for 20 gone "$cpid" "$cname" || kill -KILL "$cpid" 2>/dev/null || true
            done < "$DIR/children.pids"
        fi
        rm -f "$DIR/pacemakerd.pid" "$DIR/children.pids"
    fi
    if [ -f "$DIR/corosync.pid" ]; then
        local c; c=$(cat "$DIR/corosync.pid")
        if alive "$c" corosync; then
            kill -TERM "$c"
            wait_for 60 gone "$c" corosync || kill -KILL "$c" 2>/dev/null || true
        fi
        rm -f "$DIR/corosync.pid"
    fi
}

up() {
    [ "$(id -u)" = 0 ] || { echo "cluster.sh: must run as root" >&2; exit 1; }
    mkdir -p "$DIR"
    down   # what an earlier run of ours left
    log_from=$(stat -c %s "$PCMK_LOG" 2>/dev/null || echo 0)
    for d in $DAEMONS; do
        for p in $(pgrep -x "${d:0:15}" || true); do
            if alive "$p" "${d:0:15}"; then
                echo "cluster.sh: $d (pid $p) is running and was not started by this script; stop it first" >&2
                exit 1
            fi
        done
    done

    cat > "$DIR/corosync.conf" <<CONF
totem {
	version: 2
	cluster_name: e2e
	transport: knet
	crypto_cipher: none
	crypto_hash: none
}
logging {
	to_stderr: no
	to_logfile: yes
	logfile: $DIR/corosync.log
	to_syslog: no
}
quorum {
	provider: corosync_votequorum
}
nodelist {
	node {
		name: $NODE
		nodeid: 1
		ring0_addr: 127.0.0.1
	}
}
CONF
    mkdir -p /var/lib/corosync /var/log/corosync
    setsid env -i PATH="$CLEAN_PATH" LANG=C.UTF-8 /usr/sbin/corosync -f -c "$DIR/corosync.conf" \
        </dev/null >"$DIR/corosync.out" 2>&1 &
    echo $! > "$DIR/corosync.pid"
    quorate() { corosync-quorumtool -s 2>/dev/null | grep -q 'Quorate: *Yes'; }
    wait_for 30 quorate || { cat "$DIR/corosync.out" >&2; echo "cluster.sh: corosync not quorate" >&2; exit 1; }

    # A fresh CIB, written offline: the alerts, the properties, the resources.
    install -d -o hacluster -g haclient -m 0750 "$CIB_DIR" /var/lib/pacemaker/pengine
    rm -f "$CIB_DIR"/cib* /var/lib/pacemaker/pengine/pe-*.bz2
    cibadmin --empty > "$CIB_DIR/cib.xml"
    (
        export CIB_file="$CIB_DIR/cib.xml"
        cibadmin --create -o configuration --xml-text "$(cat "${E2E_ALERTS_XML:?}")"
        crm_attribute -t crm_config -n stonith-enabled -v "${E2E_STONITH:-false}"
        crm_attribute -t crm_config -n dc-deadtime -v 2s   # default 20 s: DC sooner
        if [ -n "${E2E_RESOURCES_XML:-}" ] && [ -s "$E2E_RESOURCES_XML" ]; then
            cibadmin --replace -o resources --xml-text "<resources>$(cat "$E2E_RESOURCES_XML")</resources>"
        fi
    )
    chown hacluster:haclient "$CIB_DIR"/cib* && chmod 0600 "$CIB_DIR"/cib*

    # The PID is setsid's, which becomes env, then sh (reading the defaults, as systemd's
    # EnvironmentFile would), then pacemakerd: each execs the next. Its name says pacemakerd only
    # after the last exec, so that is waited for before the name is what tells it is alive.
    setsid env -i PATH="$CLEAN_PATH" LANG=C.UTF-8 E2E_DEFAULTS="${E2E_PACEMAKER_DEFAULTS:-/etc/default/pacemaker}" \
        /bin/sh -c 'set -a; [ -r "$E2E_DEFAULTS" ] && . "$E2E_DEFAULTS"; set +a; unset E2E_DEFAULTS; exec /usr/sbin/pacemakerd' \
        </dev/null >"$DIR/pacemakerd.out" 2>&1 &
    local pid=$!
    echo "$pid" > "$DIR/pacemakerd.pid"
    died() {
        echo "cluster.sh: pacemakerd (pid $pid) exited:" >&2; cat "$DIR/pacemakerd.out" >&2
        this_run_log | grep -E 'pacemakerd.*(error|crit|warning)' | tail -5 >&2; exit 1
    }
    local rc=0
    wait_exec 30 "$pid" pacemakerd || rc=$?
    case $rc in
        0) ;;
        2) died ;;
        *) echo "cluster.sh: pid $pid is still \"$(cat "/proc/$pid/comm" 2>/dev/null)\" after 30 s, not pacemakerd" >&2
           cat "$DIR/pacemakerd.out" >&2; exit 1 ;;
    esac
    online() {
        alive "$pid" pacemakerd || died
        local out; out=$(crm_mon -1 2>/dev/null) || return 1
        grep -q "Current DC: $NODE " <<<"$out" && grep -q "Online: \[ $NODE \]" <<<"$out" &&
            crmadmin -q -S "$NODE" 2>&1 | grep -q S_IDLE
    }
    wait_for 120 online || { this_run_log | tail -30 >&2; echo "cluster.sh: $NODE not online as DC" >&2; exit 1; }
    pgrep -P "$(cat "$DIR/pacemakerd.pid")" -l > "$DIR/children.pids" || true
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
