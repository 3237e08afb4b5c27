#!/usr/bin/env bash
# manpage.sh BIN VERSION — notifier(1) in roff, made from what BIN prints for `notifier help` and
# each command's -h, so the page never disagrees with the binary. README.md (shipped in
# /usr/share/doc/notifier) is the full manual; the page says so.
set -euo pipefail
bin=${1:?usage: manpage.sh BIN VERSION}
version=${2:?usage: manpage.sh BIN VERSION}
date=$(LC_ALL=C date -u -d "@${SOURCE_DATE_EPOCH:-0}" +%Y-%m-%d)
# roff TEXT on stdin: backslashes, leading dots and quotes, and minus signs made literal.
roff() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
help=$("$bin" help 2>&1)
cmds=$(printf '%s\n' "$help" | awk '/^commands:/ { on = 1; next } on && NF == 0 { exit } on { print $1 }')
[ -n "$cmds" ] || { echo "manpage.sh: no commands in \`$bin help\`" >&2; exit 1; }

cat <<HEAD
.TH NOTIFIER 1 "$date" "notifier $version" "User Commands"
.SH NAME
notifier, notifier\\-drop \\- alert agent for ClusterControl (CMON) and Pacemaker
.SH SYNOPSIS
.B notifier
[\\fICOMMAND\\fR] [\\fIFLAGS\\fR]
.br
.B notifier\\-drop
.SH DESCRIPTION
CMON and Pacemaker run
.B notifier
once per event: CMON as root with the alarm as JSON on standard input, Pacemaker as hacluster
with the alert in CRM_alert_* variables.
It evaluates the YAML policy (\\fB\\-\\-config\\fR, else \\fB\$NOTIFIER_CONFIG\\fR, else
\\fI/etc/notifier/notifier.yaml\\fR) and delivers to PagerDuty, Slack or syslog, with
suppression windows, escalation, silences and exact resolves.
.PP
Each invocation writes its event durably into the spool (\\fI/var/lib/notifier/spool\\fR) and
offers it to the resident engine, \\fBnotifier serve\\fR (started by \\fInotifier.socket\\fR);
when no engine takes it within 300 ms, the invocation decides and delivers it itself.
.B notifier\\-drop
is that invocation in a small program that starts faster: it spools and hands the event to the
engine, and when the engine does not take it, runs \\fBnotifier run \\-\\-spooled\\fR to decide
it. CMON's plugin and Pacemaker's alert path point at \\fI/usr/bin/notifier\\-drop\\fR;
\\fI/usr/bin/notifier\\fR works the same, slower to start.
.PP
The full manual is \\fI/usr/share/doc/notifier/README.md\\fR; examples are in
\\fI/usr/share/doc/notifier/examples/\\fR.
.SH COMMANDS
.nf
HEAD
printf '%s\n' "$help" | roff
echo ".fi"
for c in $cmds; do
	echo ".SS \"notifier $c\""
	echo ".nf"
	"$bin" "$c" -h 2>&1 | roff || true
	echo ".fi"
done
cat <<'TAIL'
.SH FILES
.TP
.I /etc/notifier/notifier.yaml
the policy (a conffile)
.TP
.I /var/lib/notifier
state: suppression windows, incidents, the outbox, silences, history
.TP
.I notifier\-flush.timer
runs \fBnotifier flush\fR every minute
.SH SEE ALSO
.BR crm_mon (8),
.I /usr/share/doc/notifier/README.md
TAIL
