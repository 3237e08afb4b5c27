// Package template compiles and renders the message templates of a
// policy: Go text/template over a notification's data (the event's
// fields by their policy names, and the notification's own: rule,
// channel, delivery, suppressed, summary, members), with a small
// function set (README.md, "Templates") and none of what could loop or
// recurse without bound: no define, template or block, range only over
// .members or .fields, and the output capped at MaxOutput. As renders
// happen inside the state transaction, each has a work budget too:
// every value evaluated, function call, range turn and write, and every
// BytesPerStep bytes a function reads or makes, is a step, and a render
// stops with an error past MaxWork (250,000) steps or MaxRenderTime,
// so no template and no event makes one cost more than some tens of
// milliseconds of CPU (a digest of 1,000 members takes about 110,000
// steps).
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

	"notifier/channels"
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
	tree *parse.Tree // instrumented: each range's turn takes its steps
	// weight is the steps of what the template evaluates outside the
	// bodies of its ranges, taken once at the start of a render.
	weight int
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
	t := &Template{text: text, tree: tree, weight: instrument(tree)}
	if _, err := t.executable(newBudget()); err != nil { // not expected: the tree parsed
		return nil, Problems{{Message: err.Error()}}
	}
	return t, nil
}

// executable is the template with its functions taking their steps
// from b: made for each render, as the budget is the render's.
func (t *Template) executable(b *budget) (*gotemplate.Template, error) {
	name := t.tree.Name
	return gotemplate.New(name).Funcs(funcs(b)).Option("missingkey=zero").AddParseTree(name, t.tree)
}

// Render executes the template with data (see Data) and returns its
// text, or why it failed: an error of a function or of text/template
// (a field of a value that has none), an output over MaxOutput, or
// work over its budget (MaxWork steps, MaxRenderTime; IsOverBudget):
// whatever the template and the data, a render stops within the budget.
// Never panics: a panic inside (not expected) is an error too.
func (t *Template) Render(data map[string]any) (string, error) {
	out, _, err := t.render(data, newBudget())
	return out, err
}

// render is Render within b, saying too how many steps it took.
func (t *Template) render(data map[string]any, b *budget) (out string, steps int, err error) {
	defer func() { steps = MaxWork - b.left }() // over MaxWork only when the budget ran out
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("template panicked: %v", r)
		}
	}()
	if err := b.spend(t.weight); err != nil { // not expected: the text is at most MaxText
		return "", 0, &RenderError{Message: err.Error(), err: err}
	}
	x, err := t.executable(b)
	if err != nil {
		return "", 0, err
	}
	w := &capped{budget: b}
	if err := x.Execute(w, data); err != nil {
		if w.over {
			return "", 0, errTooLong
		}
		e := t.execError(err)
		if IsOverBudget(err) {
			// Where the budget ran out, and why, without what was
			// executing: inside a range it is the range's own count.
			e.Message, e.err = unwrapAll(err).Error(), err
		}
		return "", 0, e
	}
	return w.b.String(), 0, nil
}

// unwrapAll is the innermost error err wraps.
func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

var errTooLong = fmt.Errorf("output is over %d bytes", MaxOutput)

// capped is a writer that refuses what goes past MaxOutput, each write
// taking its steps from the render's budget.
type capped struct {
	b      bytes.Buffer
	over   bool
	budget *budget
}

func (w *capped) Write(p []byte) (int, error) {
	if err := w.budget.bytes(len(p)); err != nil {
		return 0, err
	}
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
	err     error // what the render failed of, for IsOverBudget
}

// Error is the message, one line.
func (e *RenderError) Error() string { return e.Message }

// Unwrap is what the render failed of, when it was over its budget.
func (e *RenderError) Unwrap() error { return e.err }

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
	// An error may quote a value of the data (text/template's eq
	// does): the message stays one short line.
	e.Message = channels.Truncate(strings.Join(strings.Fields(msg), " "), maxMessage)
	return e
}

// maxMessage caps a RenderError's message, in bytes.
const maxMessage = 512

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
