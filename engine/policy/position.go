package policy

import (
	"errors"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

var errIsEOF = io.EOF

// Compiled on first use: every run pays package initialisation.
var yamlLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`) })

// yamlErrorLine extracts the line number yaml.v3 puts in syntax errors.
func yamlErrorLine(err error) (int, string) {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return 0, te.Errors[0]
	}
	m := yamlLineRE().FindStringSubmatch(err.Error())
	if m == nil {
		return 0, err.Error()
	}
	line, _ := strconv.Atoi(m[1])
	return line, "YAML syntax: " + m[2]
}

// YAMLSyntaxError places a YAML syntax error (from decoding data) at its
// fault: line, column and the one-line message. yaml.v3 puts in its
// message the line where the enclosing block began (and for parser
// errors counts it from 0), not the fault's: "an indentation mistake on
// line 4" came out as "line 1". The fault is the first line at which a
// prefix of the document fails as the whole does.
func YAMLSyntaxError(data []byte, err error) (line, col int, msg string) {
	line, msg = yamlErrorLine(err)
	if fault := yamlFaultLine(data, err); fault > 0 {
		line = fault
	}
	line, col = yamlErrorColumn(data, max(line, 1), msg)
	if lines := SplitLines(data); strings.Contains(msg, "end of stream") && line <= len(lines) && col <= len(lines[line-1]) && strings.ContainsRune(`"'`, rune(lines[line-1][col-1])) {
		msg += ": this quote is never closed"
	}
	return max(line, 1), col, msg
}

// linearFaultSearch: up to this many lines, every prefix is tried in
// order (a parse each, only when the document failed); past it, a binary
// search (prefixes that contain the fault fail as the whole does).
const linearFaultSearch = 300

// yamlFaultLine is the first line n such that the document's first n
// lines fail to parse with err's message, or 0. Only a failing document
// is searched, so loads that succeed pay nothing.
func yamlFaultLine(data []byte, err error) int {
	want := err.Error()
	_, wantMsg := yamlErrorLine(err)
	// Line ends as they are in data, so prefixes are the document's own.
	ends := lineEnds(data)
	failsSo := func(n int) bool {
		var doc yaml.Node
		perr := yaml.NewDecoder(strings.NewReader(string(data[:ends[n-1]]))).Decode(&doc)
		if perr == nil || errors.Is(perr, errIsEOF) {
			return false
		}
		_, m := yamlErrorLine(perr)
		return perr.Error() == want || m == wantMsg
	}
	if len(ends) <= linearFaultSearch {
		for n := 1; n <= len(ends); n++ {
			if failsSo(n) {
				return n
			}
		}
		return 0
	}
	n := sort.Search(len(ends), func(i int) bool { return failsSo(i + 1) }) + 1
	if n > len(ends) || !failsSo(n) {
		return 0
	}
	return n
}

// lineEnds are the byte offsets just past each line of data (its line
// break included), at the breaks SplitLines counts.
func lineEnds(data []byte) []int {
	var ends []int
	s, off := string(data), 0
	for s != "" {
		i := strings.IndexAny(s, "\r\n\u0085\u2028\u2029")
		if i < 0 {
			ends = append(ends, len(data))
			break
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		if strings.HasPrefix(s[i:], "\r\n") {
			size = 2
		}
		off += i + size
		ends = append(ends, off)
		s = s[i+size:]
	}
	return ends
}

// yamlErrorColumn places a YAML syntax error that yaml.v3 reports only
// by line — and often by the line where the enclosing block began, not
// where the fault is — at the character most likely at fault: a tab in
// the indentation at or after that line, the quote that was never closed,
// the bracket of a flow collection that was never closed properly, else
// the line's first character. It returns the line too, which can move.
func yamlErrorColumn(data []byte, line int, msg string) (int, int) {
	lines := SplitLines(data)
	if line < 1 || line > len(lines) {
		return line, 1
	}
	switch {
	case strings.Contains(msg, "tab character"), strings.Contains(msg, "cannot start any token"):
		for i := line - 1; i < len(lines); i++ {
			if j := strings.IndexByte(indent(lines[i]), '\t'); j >= 0 {
				return i + 1, j + 1
			}
		}
	case strings.Contains(msg, "did not find expected ',' or"), strings.Contains(msg, "flow"):
		for i := line - 1; i < len(lines); i++ {
			if j := strings.IndexAny(lines[i], "{["); j >= 0 {
				return i + 1, j + 1
			}
		}
	case strings.Contains(msg, "mapping values are not allowed"):
		// key: value: more — the second ": " is the fault.
		l := lines[line-1]
		if i := strings.Index(l, ": "); i >= 0 {
			if j := strings.Index(l[i+2:], ": "); j >= 0 {
				return line, i + 2 + j + 1
			}
		}
	case strings.Contains(msg, "end of stream"), strings.Contains(msg, "quoted scalar"):
		if _, v, ok := strings.Cut(lines[line-1], ": "); ok {
			if j := strings.IndexAny(v, `"'`); j >= 0 {
				return line, len(lines[line-1]) - len(v) + j + 1
			}
		}
	}
	return line, len(indent(lines[line-1])) + 1
}

// indent is the blanks a line starts with.
func indent(l string) string { return l[:len(l)-len(strings.TrimLeft(l, " \t"))] }

// SplitLines splits a file into lines without their line ends, at the
// line breaks YAML counts (so line numbers agree with the parser's): LF,
// CR LF, a lone CR, NEL, and the Unicode line and paragraph separators.
func SplitLines(data []byte) []string {
	var out []string
	s := string(data)
	for s != "" {
		i := strings.IndexAny(s, "\r\n\u0085\u2028\u2029")
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i])
		_, size := utf8.DecodeRuneInString(s[i:])
		if strings.HasPrefix(s[i:], "\r\n") {
			size = 2
		}
		s = s[i+size:]
	}
	return out
}

// ScalarPos maps a rune offset inside the value of scalar node n to the
// 1-based line and column of the file where that rune was written. It
// understands plain, quoted (with escapes) and block scalars, so an
// expression error points at the character inside the YAML, wherever
// the policy author put the expression.
func ScalarPos(n *yaml.Node, lines []string, offset int) (int, int) {
	if n.Line < 1 || n.Line > len(lines) {
		return n.Line, n.Column
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return blockPos(n, lines, offset)
	}
	quote := rune(0)
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		quote = '"'
	case n.Style&yaml.SingleQuotedStyle != 0:
		quote = '\''
	}
	li := n.Line - 1
	col := runeIndexToByte(lines[li], n.Column-1)
	// The node starts at its properties (an anchor, a tag), which may
	// even end the line: the value is after them.
	li, col = skipProperties(lines, li, col)
	line := lines[li]
	if quote != 0 {
		col++
	}
	decoded := 0
	for {
		if quote == '"' && col == len(line)-1 && line[col] == '\\' && li+1 < len(lines) {
			// An escaped line break: it and the next line's indentation
			// are nothing in the value.
			li++
			line = lines[li]
			col = len(line) - len(strings.TrimLeft(line, " \t"))
			continue
		}
		if col >= len(line) {
			// line break inside the scalar folds to one space
			if decoded == offset || li+1 >= len(lines) {
				return li + 1, utf8.RuneCountInString(line[:min(col, len(line))]) + 1
			}
			decoded++
			li++
			line = lines[li]
			col = len(line) - len(strings.TrimLeft(line, " \t"))
			continue
		}
		if decoded == offset {
			return li + 1, utf8.RuneCountInString(line[:col]) + 1
		}
		if li+1 < len(lines) && strings.Trim(line[col:], " \t") == "" {
			col = len(line) // white space before a line break folds with it
			continue
		}
		r, size := utf8.DecodeRuneInString(line[col:])
		switch {
		case quote == '"' && r == '\\':
			size += escapeLen(line[col+size:])
		case quote == '\'' && r == '\'' && strings.HasPrefix(line[col+1:], "'"):
			size++
		}
		col += size
		decoded++
	}
}

// skipProperties skips, from byte col of lines[li], a node's
// properties (an anchor "&a", a tag "!!str") and the white space, line
// breaks and comments after them, to where its value is written.
func skipProperties(lines []string, li, col int) (int, int) {
	line := lines[li]
	for col < len(line) && (line[col] == '&' || line[col] == '!') {
		for col < len(line) && line[col] != ' ' && line[col] != '\t' {
			col++
		}
		for col < len(line) && (line[col] == ' ' || line[col] == '\t') {
			col++
		}
		for (col >= len(line) || line[col] == '#') && li+1 < len(lines) {
			li++
			line = lines[li]
			col = len(line) - len(strings.TrimLeft(line, " \t"))
		}
	}
	return li, col
}

// escapeLen is the length of a YAML double-quoted escape after the backslash.
func escapeLen(s string) int {
	if s == "" {
		return 0
	}
	switch s[0] {
	case 'x':
		return 3
	case 'u':
		return 5
	case 'U':
		return 9
	}
	return 1
}

func blockPos(n *yaml.Node, lines []string, offset int) (int, int) {
	indent := -1
	for li := n.Line; li < len(lines); li++ { // lines[n.Line] is the first content line
		line := lines[li]
		if strings.TrimSpace(line) == "" {
			if offset == 0 && indent >= 0 {
				return li + 1, 1
			}
			offset--
			continue
		}
		if indent < 0 {
			indent = len(line) - len(strings.TrimLeft(line, " "))
		}
		content := line[min(indent, len(line)):]
		if runes := utf8.RuneCountInString(content); offset <= runes {
			return li + 1, indent + offset + 1
		} else {
			offset -= runes + 1
		}
	}
	return n.Line, n.Column
}

func runeIndexToByte(s string, runes int) int {
	for i := range s {
		if runes == 0 {
			return i
		}
		runes--
	}
	return len(s)
}
