package bolt

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockID is how /proc/locks names the file open as fd (its device and
// inode), or "" when it cannot be told.
func lockID(fd int) string {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
}

// stoppedHolder reports the process holding the flock on lock (lockID) when every
// holder of it is stopped (SIGSTOP, a debugger): waiting for it is
// waiting for a person, so the wait gives up at once and the run fails
// open with the time it has left, instead of waiting out the stall
// bound. A stopped resident engine caught inside a transaction is the
// case that matters: the invocations it did not answer must not wait on
// it a second time. It reads /proc/locks (the holder's pid, by the lock
// file's device and inode; lines with "->" are waiters) and each
// holder's /proc/PID/stat; anything it cannot read means "not stopped".
func stoppedHolder(lock string) (int, bool) {
	if lock == "" {
		return 0, false
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0, false
	}
	holder := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 1234 fd:00:5678 0 EOF"
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" || fields[1] != "FLOCK" || fields[5] != lock {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil || pid <= 0 || !processStopped(pid) {
			return 0, false
		}
		holder = pid
	}
	return holder, holder != 0
}

// processStopped reports whether process pid is stopped: state T
// (stopped by a signal) or t (by a tracer) in /proc/PID/stat.
func processStopped(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	s := data[i+2]
	return s == 'T' || s == 't'
}
