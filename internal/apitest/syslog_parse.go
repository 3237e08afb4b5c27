package apitest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RFC 5424 section 6 header field limits, checked so that a sender
// exceeding them fails its tests instead of a real collector's parser.
const (
	maxHostname = 255
	maxAppName  = 48
	maxProcID   = 128
	maxMsgID    = 32
)

// ParseSyslog parses one message without stream framing: RFC 5424
// ("<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]") when the version
// follows the PRI, else the traditional format log/syslog writes, with
// or without a hostname ("<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG",
// "<PRI>RFC3339 HOST TAG[PID]: MSG").
func ParseSyslog(raw string) (SyslogMessage, error) {
	r := SyslogMessage{Raw: raw}
	rest, err := parsePRI(raw, &r)
	if err != nil {
		return r, fmt.Errorf("syslog message %q: %w", raw, err)
	}
	if strings.HasPrefix(rest, "1 ") {
		err = parse5424(rest[2:], &r)
	} else {
		err = parseTraditional(rest, &r)
	}
	if err != nil {
		return r, fmt.Errorf("syslog message %q: %w", raw, err)
	}
	return r, nil
}

func parsePRI(s string, r *SyslogMessage) (string, error) {
	end := strings.IndexByte(s, '>')
	if !strings.HasPrefix(s, "<") || end < 2 || end > 4 {
		return "", errors.New("no <PRI> at the start")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri < 0 || pri > 191 || (end > 2 && s[1] == '0') {
		return "", fmt.Errorf("PRI %q is not 0-191", s[1:end])
	}
	r.Facility, r.Severity = pri/8, pri%8
	return s[end+1:], nil
}

func parse5424(s string, r *SyslogMessage) error {
	r.Version = 1
	var fields [5]string
	for i := range fields {
		sp := strings.IndexByte(s, ' ')
		if sp < 0 {
			return fmt.Errorf("header ends after %d of 5 fields", i)
		}
		fields[i], s = s[:sp], s[sp+1:]
	}
	limits := [5]int{0, maxHostname, maxAppName, maxProcID, maxMsgID}
	names := [5]string{"TIMESTAMP", "HOSTNAME", "APP-NAME", "PROCID", "MSGID"}
	for i, f := range fields {
		if f == "" {
			return fmt.Errorf("%s is empty (two spaces in the header?)", names[i])
		}
		if limits[i] > 0 && len(f) > limits[i] {
			return fmt.Errorf("%s %q is longer than %d", names[i], f, limits[i])
		}
		for j := 0; j < len(f); j++ {
			if f[j] < 33 || f[j] > 126 {
				return fmt.Errorf("%s %q is not printable ASCII", names[i], f)
			}
		}
		if f == "-" {
			fields[i] = ""
		}
	}
	if ts := fields[0]; ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return fmt.Errorf("TIMESTAMP %q: %w", ts, err)
		}
		if dot := strings.IndexByte(ts, '.'); dot >= 0 && strings.IndexAny(ts[dot:], "Z+-")-1 > 6 {
			return fmt.Errorf("TIMESTAMP %q has more than 6 fraction digits", ts)
		}
		r.Time = t
	}
	r.Hostname, r.AppName, r.ProcID, r.MsgID = fields[1], fields[2], fields[3], fields[4]
	sd, rest, err := cutSD(s)
	if err != nil {
		return err
	}
	r.StructuredData = sd
	switch {
	case rest == "":
	case rest[0] != ' ':
		return fmt.Errorf("no space between STRUCTURED-DATA and MSG in %q", rest)
	default:
		r.Msg = strings.TrimPrefix(rest[1:], "\xEF\xBB\xBF")
	}
	return nil
}

// cutSD splits off STRUCTURED-DATA: "-" or one or more [id param="v"]
// elements, where '"', '\' and ']' inside values are escaped.
func cutSD(s string) (sd, rest string, err error) {
	if strings.HasPrefix(s, "-") {
		return "", s[1:], nil
	}
	i := 0
	for i < len(s) && s[i] == '[' {
		j, quoted := i+1, false
		for ; j < len(s); j++ {
			c := s[j]
			if quoted && c == '\\' {
				j++ // the escaped character
			} else if c == '"' {
				quoted = !quoted
			} else if c == ']' && !quoted {
				break
			}
		}
		if j >= len(s) {
			return "", "", fmt.Errorf("unterminated SD-ELEMENT in %q", s)
		}
		i = j + 1
	}
	if i == 0 {
		return "", "", fmt.Errorf("STRUCTURED-DATA is neither - nor [...]: %q", s)
	}
	return s[:i], s[i:], nil
}

func parseTraditional(s string, r *SyslogMessage) error {
	if len(s) > 16 && s[15] == ' ' {
		if t, err := time.Parse(time.Stamp, s[:15]); err == nil {
			r.Time = t.AddDate(time.Now().Year(), 0, 0) // time.Stamp has no year
			s = s[16:]
			return parseTag(s, r)
		}
	}
	ts, rest, ok := strings.Cut(s, " ")
	t, err := time.Parse(time.RFC3339, ts)
	if !ok || err != nil {
		return errors.New("no RFC 5424 version and no time.Stamp or RFC 3339 timestamp after PRI")
	}
	host, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return errors.New("nothing after the hostname")
	}
	r.Time, r.Hostname = t, host
	return parseTag(rest, r)
}

// parseTag reads "TAG[PID]: MSG" or "TAG: MSG".
func parseTag(s string, r *SyslogMessage) error {
	end := strings.IndexAny(s, "[:")
	if end <= 0 {
		return fmt.Errorf("no TAG followed by [PID] or ':' in %q", s)
	}
	r.AppName, s = s[:end], s[end:]
	if s[0] == '[' {
		pid, rest, ok := strings.Cut(s[1:], "]")
		if !ok || pid == "" {
			return fmt.Errorf("unterminated [PID] in %q", s)
		}
		r.ProcID, s = pid, rest
	}
	if !strings.HasPrefix(s, ":") {
		return fmt.Errorf("no ':' after the TAG in %q", s)
	}
	r.Msg = strings.TrimSuffix(strings.TrimPrefix(s[1:], " "), "\n")
	return nil
}

// ParseKeyValues parses a line of key=value pairs as the syslog channel
// writes them: values bare, or double-quoted with Go escapes. A key seen
// twice, a key without '=', or a bad quote is an error.
func ParseKeyValues(line string) (map[string]string, error) {
	kv := map[string]string{}
	s := line
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return kv, nil
		}
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexByte(s, ' ')
		if eq <= 0 || (sp >= 0 && sp < eq) {
			return nil, fmt.Errorf("key=value line %q: no key=value at %q", line, s)
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, fmt.Errorf("key=value line %q: value of %q: %w", line, key, err)
			}
			val, _ = strconv.Unquote(q)
			s = s[len(q):]
			if s != "" && s[0] != ' ' {
				return nil, fmt.Errorf("key=value line %q: no space after the value of %q", line, key)
			}
		} else {
			val, s, _ = strings.Cut(s, " ")
		}
		if _, dup := kv[key]; dup {
			return nil, fmt.Errorf("key=value line %q: key %q appears twice", line, key)
		}
		kv[key] = val
	}
}
