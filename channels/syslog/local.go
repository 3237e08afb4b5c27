//go:build !windows && !plan9

package syslog

import (
	"fmt"
	stdsyslog "log/syslog"
)

// stdWriter adapts log/syslog's Writer, which carries the facility and
// takes the severity per call.
type stdWriter struct{ w *stdsyslog.Writer }

// dialLocal opens the local daemon's socket: the well-known ones
// (/dev/log, /var/run/syslog, /var/run/log) when path is "", else the
// unix datagram socket at path. log/syslog writes the traditional
// "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG" that every local daemon parses.
func dialLocal(path string, facility int, tag string) (localWriter, error) {
	prio := stdsyslog.Priority(facility<<3) | stdsyslog.LOG_INFO
	if path == "" {
		w, err := stdsyslog.Dial("", "", prio, tag)
		if err != nil {
			// log/syslog only says "Unix syslog delivery error"; in a
			// container the cause is nearly always that no daemon runs.
			return nil, fmt.Errorf("no local syslog socket (/dev/log): %w", err)
		}
		return stdWriter{w}, nil
	}
	w, err := stdsyslog.Dial("unixgram", path, prio, tag)
	if err != nil {
		return nil, err // net's error names the socket and the cause
	}
	return stdWriter{w}, nil
}

func (s stdWriter) write(sev int, line string) error {
	var err error
	switch sev {
	case sevCrit:
		err = s.w.Crit(line)
	case sevWarning:
		err = s.w.Warning(line)
	case sevInfo:
		err = s.w.Info(line)
	default:
		err = s.w.Notice(line)
	}
	if err != nil {
		return fmt.Errorf("write to local syslog: %w", err)
	}
	return nil
}

func (s stdWriter) Close() error { return s.w.Close() }
