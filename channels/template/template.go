// Package template compiles and renders the message templates of a
// policy: Go text/template over a notification's data (the event's
// fields by their policy names, and the notification's own: rule,
// channel, delivery, suppressed, summary, members), with a small
// function set (README.md, "Templates") and none of what could loop or
// recurse without bound: no define, template or block, range only over
// .members or .fields, and the output capped at MaxOutput.
//
// Compile checks every field and function a template names against the
// names the caller gives (the event's, engine/event.Names) and reports
// each problem with its byte offset in the template text, so a caller
// can place it in the file the text came from. The data a template is
// rendered with is the caller's to build (engine/pipeline.Data): every
// event field by its name (fields a map[string]string, time a
// time.Time), the Notification names, and members a []map[string]any
// of event fields.
package template

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	gotemplate "text/template"
	"text/template/parse"
)

// MaxOutput caps what one template renders: a template that writes more
// fails, as one that errs does.
const MaxOutput = 64 << 10

// MaxText caps a template's own text: a template is a line or a short
// body written by a person, and everything a render can cost grows with
// the text.
const MaxText = 16 << 10

// Names of the data about the notification, besides the event's fields.
const (
	// Members is the list of the digest's members (maps of event fields):
	// until grouping exists, the event itself.
	Members = "members"
	// RawFields is the event's raw fields, a map of strings: any key may
	// be named below it (.fields.anything).
	RawFields = "fields"
	// Time is the event's time, a time.Time.
	Time = "time"
)

// Notification are the names of the data about the notification, which
// only the top level has (a member of .members has the event's fields
// only).
var Notification = []string{"rule", "channel", "delivery", "suppressed", "summary", Members}

// Problem is one thing wrong with a template, at a byte offset in its
// text.
type Problem struct {
	Offset  int
	Message string
}

// Problems are every problem Compile found, in the order of the text.
type Problems []Problem

// Error joins the problems' messages.
func (ps Problems) Error() string {
	if len(ps) == 0 {
		return "no problem"
	}
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Message
	}
	return strings.Join(msgs, "; ")
}

// Template is a compiled template, safe for concurrent Render.
type Template struct {
	text string
	t    *gotemplate.Template
}

// Text is the template's text as written.
func (t *Template) Text() string { return t.text }

// Compile parses text and checks it statically: its syntax, every field
// it names (event names the event's fields; the notification's are
// added, see Notification), every function it calls and with how many
// arguments, and what it ranges over. The error is Problems, each at its
// byte offset in text.
func Compile(name, text string, event []string) (*Template, error) {
	if len(text) > MaxText {
		return nil, Problems{{Offset: MaxText, Message: fmt.Sprintf("template is %d bytes, over the %d a template may be", len(text), MaxText)}}
	}
	tree := parse.New(name)
	tree.Mode = parse.SkipFuncCheck // functions are checked below, with positions
	set := map[string]*parse.Tree{}
	if _, err := tree.Parse(text, "", "", set); err != nil {
		return nil, Problems{syntaxProblem(text, err)}
	}
	c := newChecker(text, event)
	for tname := range set {
		if tname != name {
			off := strings.Index(text, "define")
			if b := strings.Index(text, "block"); off < 0 || (b >= 0 && b < off) {
				off = b
			}
			c.problem(off, "define and block are not allowed: a template is one piece of text")
			break
		}
	}
	if tree.Root != nil {
		c.list(tree.Root, scope{dot: kindRoot, vars: map[string]kind{"$": kindRoot}})
	}
	if len(c.problems) > 0 {
		return nil, c.problems.sorted()
	}
	t, err := gotemplate.New(name).Funcs(funcs()).Option("missingkey=zero").AddParseTree(name, tree)
	if err != nil { // not expected: the tree parsed
		return nil, Problems{{Message: err.Error()}}
	}
	return &Template{text: text, t: t}, nil
}

// Render executes the template with data (see Data) and returns its
// text, or why it failed: an error of a function or of text/template
// (a field of a value that has none), or an output over MaxOutput.
// Never panics: a panic inside (not expected) is an error too.
func (t *Template) Render(data map[string]any) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("template panicked: %v", r)
		}
	}()
	w := &capped{}
	if err := t.t.Execute(w, data); err != nil {
		if w.over {
			return "", errTooLong
		}
		return "", t.execError(err)
	}
	return w.b.String(), nil
}

var errTooLong = fmt.Errorf("output is over %d bytes", MaxOutput)

// capped is a writer that refuses what goes past MaxOutput.
type capped struct {
	b    bytes.Buffer
	over bool
}

func (w *capped) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxOutput {
		w.over = true
		return 0, errTooLong
	}
	return w.b.Write(p)
}

// RenderError is why a render failed, with where in the template's
// text (a byte offset) when text/template says so: Render's error but
// for an output over MaxOutput (IsTooLong).
type RenderError struct {
	Offset  int
	Message string
}

// Error is the message, one line.
func (e *RenderError) Error() string { return e.Message }

// execPrefix is how text/template starts an execution error:
// `template: NAME:LINE:COL: executing "NAME" at <.x>: `.
var execPrefix = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^template: [^\n]*?:(\d+):(\d+): executing "[^"]*" at (<[^\n]*?>): `)
})

// execError is text/template's error without its prefix but for what
// it was executing ("at <humanize .message>: humanize: ..."), placed at
// the line and byte column (0-based) it names.
func (t *Template) execError(err error) *RenderError {
	msg := err.Error()
	e := &RenderError{}
	if m := execPrefix().FindStringSubmatchIndex(msg); m != nil {
		line, _ := strconv.Atoi(msg[m[2]:m[3]])
		col, _ := strconv.Atoi(msg[m[4]:m[5]])
		e.Offset = lineStart(t.text, line) + col
		msg = "at " + msg[m[6]:m[7]] + ": " + msg[m[1]:]
	}
	e.Offset = min(max(e.Offset, 0), len(t.text))
	e.Message = strings.Join(strings.Fields(msg), " ")
	return e
}

// lineStart is the byte offset of line (1-based) in text.
func lineStart(text string, line int) int {
	start := 0
	for i := 1; i < line; i++ {
		nl := strings.IndexByte(text[start:], '\n')
		if nl < 0 {
			break
		}
		start += nl + 1
	}
	return start
}

// parseErrorRE is a parse error: `template: NAME:LINE: message`.
var parseErrorRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^template: .*?:(\d+): (.*)$`) })

// syntaxProblem places a parse error: text/template says only the line,
// so the problem is at the quoted token it names on that line when there
// is one, else at the line's start.
func syntaxProblem(text string, err error) Problem {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	m := parseErrorRE().FindStringSubmatch(msg)
	if m == nil {
		return Problem{Message: msg}
	}
	line, _ := strconv.Atoi(m[1])
	msg = m[2]
	start := lineStart(text, line)
	end := len(text)
	if nl := strings.IndexByte(text[start:], '\n'); nl >= 0 {
		end = start + nl
	}
	off := start
	if q := quotedToken(msg); q != "" {
		if i := strings.Index(text[start:end], q); i >= 0 {
			off = start + i
		}
	}
	return Problem{Offset: off, Message: "syntax: " + msg}
}

// quotedToken is the first "..." of a parse error message, unquoted.
func quotedToken(msg string) string {
	i := strings.IndexByte(msg, '"')
	if i < 0 {
		return ""
	}
	s, err := strconv.QuotedPrefix(msg[i:])
	if err != nil {
		return ""
	}
	u, err := strconv.Unquote(s)
	if err != nil || strings.TrimSpace(u) == "" {
		return ""
	}
	return u
}

// IsTooLong says err is Render's error for an output over MaxOutput.
func IsTooLong(err error) bool { return errors.Is(err, errTooLong) }
