package engine

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // windows name IANA zones; hosts without zoneinfo must still load them

	"notifier/engine/policy"
)

// Window is a compiled WindowSpec. A time range whose end is before its
// start ("22:00-06:00") spans midnight and belongs to the weekday it
// starts on, so "fri 22:00-06:00" covers Saturday 03:00.
type Window struct {
	Name   string
	loc    *time.Location
	days   [7]bool // indexed by time.Weekday; all true when no weekdays given
	ranges []clockRange
}

type clockRange struct{ from, to int } // minutes after midnight, to may be 1440

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Contains reports whether t falls inside the window.
func (w *Window) Contains(t time.Time) bool {
	t = t.In(w.loc)
	return w.at(t.Weekday(), t.Hour()*60+t.Minute())
}

// Always reports whether the window holds every minute of the week: a
// rule muted during it is never heard.
func (w *Window) Always() bool {
	for day := time.Sunday; day <= time.Saturday; day++ {
		for minute := 0; minute < 24*60; minute++ {
			if !w.at(day, minute) {
				return false
			}
		}
	}
	return true
}

// at reports whether a wall-clock minute of a weekday is inside.
func (w *Window) at(day time.Weekday, minute int) bool {
	if len(w.ranges) == 0 {
		return w.days[day]
	}
	yesterday := (day + 6) % 7
	for _, r := range w.ranges {
		if r.from < r.to {
			if w.days[day] && minute >= r.from && minute < r.to {
				return true
			}
			continue
		}
		if (w.days[day] && minute >= r.from) || (w.days[yesterday] && minute < r.to) {
			return true
		}
	}
	return false
}

// compileWindow checks a window's spec; problems, added to ps, point at
// the offending entry.
func compileWindow(def *policy.WindowDef, ps *policy.Problems) *Window {
	name, spec, sink := def.Name, def.Spec, def.Sink
	sink.List = ps
	w := &Window{Name: name, loc: time.UTC}
	if spec.Timezone != "" {
		loc, err := time.LoadLocation(spec.Timezone)
		if err != nil || strings.TrimSpace(spec.Timezone) != spec.Timezone {
			sink.Errorf(def.Timezone.Line, def.Timezone.Column, "timezone", "windows.%s.timezone: unknown time zone %q (want an IANA name like Europe/Stockholm)", name, spec.Timezone)
		} else {
			w.loc = loc
		}
	}
	if len(spec.Weekdays) == 0 {
		w.days = [7]bool{true, true, true, true, true, true, true}
	}
	for i, d := range spec.Weekdays {
		from, to, isRange := strings.Cut(strings.ToLower(strings.TrimSpace(d)), "-")
		a, okA := weekdayNames[from]
		b, okB := a, okA
		if isRange {
			b, okB = weekdayNames[to]
		}
		if !okA || !okB {
			pos := def.Weekday(i)
			sink.Errorf(pos.Line, pos.Column, "weekday", "windows.%s.weekdays[%d]: %q is not a weekday (want mon, tue, wed, thu, fri, sat, sun or a range like mon-fri)", name, i, d)
			continue
		}
		for day := a; ; day = (day + 1) % 7 {
			w.days[day] = true
			if day == b {
				break
			}
		}
	}
	for i, s := range spec.Times {
		r, err := parseClockRange(s)
		if err != nil {
			pos := def.Time(i)
			sink.Errorf(pos.Line, pos.Column, "time-range", "windows.%s.times[%d]: %q: %v", name, i, s, err)
			continue
		}
		w.ranges = append(w.ranges, r)
	}
	return w
}

// parseClockRange reads "HH:MM-HH:MM"; the end may be 24:00.
func parseClockRange(s string) (clockRange, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return clockRange{}, fmt.Errorf("want a range like 09:00-17:00")
	}
	f, err := parseClock(strings.TrimSpace(from), false)
	if err != nil {
		return clockRange{}, err
	}
	t, err := parseClock(strings.TrimSpace(to), true)
	if err != nil {
		return clockRange{}, err
	}
	if f == t {
		return clockRange{}, fmt.Errorf("empty range: start and end are the same")
	}
	return clockRange{from: f, to: t}, nil
}

func parseClock(s string, end bool) (int, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not a time of day (want HH:MM)", s)
	}
	if _, err := fmt.Sscanf(s, "%2d:%2d", &h, &m); err != nil || m < 0 || m > 59 || h < 0 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, fmt.Errorf("%q is not a time of day (want HH:MM, 00:00 to 24:00)", s)
	}
	return h*60 + m, nil
}
