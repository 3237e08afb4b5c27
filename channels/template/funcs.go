package template

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	gotemplate "text/template"
	"text/template/parse"
	"time"

	"notifier/channels"
	"notifier/internal/hint"
)

// function is one function a template may call: its arity (max -1: any
// number) and what the checker knows of its result.
type function struct {
	min, max int
	result   func(args []kind) kind
}

func value([]kind) kind   { return kindValue }
func anyKind([]kind) kind { return kindAny }

// sameList is the kind of index and slice: an element of .members is a
// member, of .fields a string; a slice of .members is .members.
func sameList(elem bool) func([]kind) kind {
	return func(args []kind) kind {
		if len(args) == 0 {
			return kindAny
		}
		switch args[0] {
		case kindMembers:
			if elem {
				return kindMember
			}
			return kindMembers
		case kindFields:
			if elem {
				return kindValue
			}
		}
		return kindAny
	}
}

// functions are every function a template may call: the documented set,
// and text/template's builtins but call (which calls a function value:
// nothing a message needs). print, printf, println, html, js and
// urlquery are replaced by versions that refuse to make more than
// MaxOutput bytes, so no pipeline can grow a value without bound. Made
// on first use: every run pays package initialisation.
var functions = sync.OnceValue(func() map[string]function {
	return map[string]function{
		"upper":    {1, 1, value},
		"lower":    {1, 1, value},
		"truncate": {2, 2, value},
		"join":     {2, 2, value},
		"default":  {2, 2, anyKind},
		"humanize": {1, 1, value},
		"inzone":   {2, 2, func([]kind) kind { return kindTime }},
		"date":     {2, 2, value},
		"json":     {1, 1, value},

		"and": {1, -1, anyKind}, "or": {1, -1, anyKind}, "not": {1, 1, value},
		"len": {1, 1, value}, "index": {1, -1, sameList(true)}, "slice": {1, 4, sameList(false)},
		"eq": {2, -1, value}, "ne": {2, 2, value}, "lt": {2, 2, value}, "le": {2, 2, value}, "gt": {2, 2, value}, "ge": {2, 2, value},
		"print": {0, -1, value}, "printf": {1, -1, value}, "println": {0, -1, value},
		"html": {0, -1, value}, "js": {0, -1, value}, "urlquery": {0, -1, value},
	}
})

// call checks a call of the function id with nargs arguments.
func (c *checker) call(id *parse.IdentifierNode, nargs int, args []kind) kind {
	f, ok := functions()[id.Ident]
	if !ok {
		names := make([]string, 0, len(functions()))
		for n := range functions() {
			names = append(names, n)
		}
		c.problem(int(id.Position()), "unknown function %q%s", id.Ident, hint.Suggest(id.Ident, names))
		return kindAny
	}
	if nargs < f.min || (f.max >= 0 && nargs > f.max) {
		want := strconv.Itoa(f.min)
		switch {
		case f.max < 0:
			want = "at least " + want
		case f.max != f.min:
			want = fmt.Sprintf("%d to %d", f.min, f.max)
		}
		c.problem(int(id.Position()), "%s takes %s argument(s), given %d (a piped value counts as the last)", id.Ident, want, nargs)
	}
	return f.result(args)
}

// funcs are the functions as text/template calls them, each taking
// from b the steps of its call and of the bytes it reads or makes before
// it does the work (b.read), so no function runs past the budget.
func funcs(b *budget) gotemplate.FuncMap {
	fm := gotemplate.FuncMap{
		"upper": func(v any) (string, error) {
			if err := b.read(v); err != nil {
				return "", err
			}
			return capped1("upper", strings.ToUpper(text(v)))
		},
		"lower": func(v any) (string, error) {
			if err := b.read(v); err != nil {
				return "", err
			}
			return capped1("lower", strings.ToLower(text(v)))
		},
		"truncate": func(n int, v any) (string, error) {
			if err := b.read(v); err != nil {
				return "", err
			}
			return truncate(n, v)
		},
		"join": func(sep string, list any) (string, error) { return join(b, sep, list) },
		"default": func(def, v any) (any, error) {
			if err := b.read(v); err != nil {
				return nil, err
			}
			return defaultValue(def, v), nil
		},
		"humanize": func(v any) (string, error) {
			if err := b.read(v); err != nil {
				return "", err
			}
			return humanize(v)
		},
		"inzone": func(zone string, v any) (time.Time, error) {
			if err := b.read(zone, v); err != nil {
				return time.Time{}, err
			}
			return inzone(zone, v)
		},
		"date": func(layout string, v any) (string, error) {
			// What Format makes grows with the layout: the layout
			// twice.
			if err := b.read(layout, layout, v); err != nil {
				return "", err
			}
			return date(layout, v)
		},
		"json": func(v any) (string, error) {
			if err := b.read(v, v); err != nil {
				return "", err
			}
			return jsonText(v)
		},
		"print": func(args ...any) (string, error) {
			if err := argsFit(b, "print", args); err != nil {
				return "", err
			}
			return made(b, "print", fmt.Sprint(args...))
		},
		"println": func(args ...any) (string, error) {
			if err := argsFit(b, "println", args); err != nil {
				return "", err
			}
			return made(b, "println", fmt.Sprintln(args...))
		},
		"printf":   func(format string, args ...any) (string, error) { return printf(b, format, args...) },
		"html":     escaper(b, "html", gotemplate.HTMLEscaper),
		"js":       escaper(b, "js", gotemplate.JSEscaper),
		"urlquery": escaper(b, "urlquery", gotemplate.URLQueryEscaper),
		stepFunc:   func(n int) (string, error) { return "", b.spend(n) },
		rangeFunc:  b.ranged,
	}
	for name, f := range builtins(b) {
		fm[name] = f
	}
	return fm
}

// made is capped1 of what a function made, taking the steps of its
// bytes: what print and printf make may be more than they read.
func made(b *budget, fn, s string) (string, error) {
	if err := b.bytes(len(s)); err != nil {
		return "", err
	}
	return capped1(fn, s)
}

var errTooBig = errors.New("result is over the output limit")

// capped1 is s, or an error when s alone is over MaxOutput.
func capped1(fn, s string) (string, error) {
	if len(s) > MaxOutput {
		return "", fmt.Errorf("%s: %w (%d bytes)", fn, errTooBig, MaxOutput)
	}
	return s, nil
}

// text is v as a template prints it.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case time.Time:
		return v.Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// size is about how many bytes v prints as, without printing it.
func size(v any) int {
	switch v := v.(type) {
	case string:
		return len(v)
	case map[string]string:
		n := 0
		for k, s := range v {
			n += len(k) + len(s) + 2
		}
		return n
	case map[string]any:
		n := 0
		for k, s := range v {
			n += len(k) + size(s) + 2
		}
		return n
	case []any:
		n := 0
		for _, s := range v {
			n += size(s) + 1
		}
		return n
	case []map[string]any:
		n := 0
		for _, s := range v {
			n += size(s) + 1
		}
		return n
	case []string:
		n := 0
		for _, s := range v {
			n += len(s) + 1
		}
		return n
	}
	return 32
}

// argsFit refuses arguments that together are over MaxOutput, before
// any formatting makes something bigger of them, and takes their steps.
func argsFit(b *budget, fn string, args []any) error {
	n := 0
	for _, a := range args {
		if n += size(a); n > MaxOutput {
			if err := b.bytes(n); err != nil {
				return err
			}
			return fmt.Errorf("%s: arguments are %w (%d bytes)", fn, errTooBig, MaxOutput)
		}
	}
	return b.read(args...)
}

func escaper(b *budget, fn string, esc func(...any) string) func(...any) (string, error) {
	return func(args ...any) (string, error) {
		if err := argsFit(b, fn, args); err != nil {
			return "", err
		}
		return made(b, fn, esc(args...))
	}
}

// maxWidth caps a printf width or precision: %999999d would make a
// megabyte of padding out of one verb.
const maxWidth = 256

func printf(b *budget, format string, args ...any) (string, error) {
	if err := argsFit(b, "printf", append([]any{format}, args...)); err != nil {
		return "", err
	}
	if err := checkFormat(format); err != nil {
		return "", err
	}
	return made(b, "printf", fmt.Sprintf(format, args...))
}

// checkFormat refuses a printf format with a width or precision over
// maxWidth, or one taken from the arguments (*), and explicit argument
// indexes (%[1]s): a verb repeated with one index formats its argument
// again each time, K times the argument inside one Sprintf, before
// anything could count it. Without them every argument is formatted at
// most once and padded at most maxWidth per verb.
func checkFormat(format string) error {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		for i++; i < len(format) && strings.IndexByte("+-# 0123456789.[]*", format[i]) >= 0; i++ {
			switch c := format[i]; {
			case c == '*':
				return errors.New("printf: a width or precision from the arguments (*) is not allowed")
			case c == '[':
				return errors.New("printf: explicit argument indexes (%[n]) are not allowed")
			case c >= '1' && c <= '9':
				j := i
				for j < len(format) && format[j] >= '0' && format[j] <= '9' {
					j++
				}
				if n, err := strconv.Atoi(format[i:j]); err != nil || n > maxWidth {
					return fmt.Errorf("printf: width or precision %s is over %d", format[i:j], maxWidth)
				}
				i = j - 1
			}
		}
	}
	return nil
}

// truncate shortens v to at most n bytes, UTF-8 safe, marking the cut
// with "…" (channels.Truncate).
func truncate(n int, v any) (string, error) {
	if n < 0 {
		return "", fmt.Errorf("truncate: length %d is negative", n)
	}
	return channels.Truncate(text(v), n), nil
}

// join joins a list's elements with sep, taking from bud the steps of
// each element before printing it.
func join(bud *budget, sep string, list any) (string, error) {
	rv := reflect.ValueOf(list)
	if list == nil || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
		return "", fmt.Errorf("join: %T is not a list", list)
	}
	var b strings.Builder
	for i := range rv.Len() {
		if i > 0 {
			b.WriteString(sep)
		}
		v := rv.Index(i).Interface()
		if err := bud.read(sep, v); err != nil {
			return "", err
		}
		b.WriteString(text(v))
		if b.Len() > MaxOutput {
			return "", fmt.Errorf("join: %w (%d bytes)", errTooBig, MaxOutput)
		}
	}
	return b.String(), nil
}

// defaultValue is v, or def when v is empty or zero (nil, "", 0, false,
// an empty list or map, the zero time).
func defaultValue(def, v any) any {
	if v == nil {
		return def
	}
	rv := reflect.ValueOf(v)
	if rv.IsZero() || ((rv.Kind() == reflect.Map || rv.Kind() == reflect.Slice) && rv.Len() == 0) {
		return def
	}
	if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
		return def
	}
	return v
}

// humanize says a duration the way a person does: "1d 2h 3m 4s", "250ms".
// v is a time.Duration, a number of seconds (an integer, or text holding
// one) or a duration text ("90s").
func humanize(v any) (string, error) {
	var d time.Duration
	switch v := v.(type) {
	case time.Duration:
		d = v
	case int:
		d = seconds(int64(v))
	case int64:
		d = seconds(v)
	case float64:
		d = time.Duration(v * float64(time.Second))
	case string:
		s := strings.TrimSpace(v)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			d = seconds(n)
		} else if d, err = time.ParseDuration(s); err != nil {
			return "", fmt.Errorf("humanize: %q is neither a number of seconds nor a duration", channels.Truncate(v, 40))
		}
	default:
		return "", fmt.Errorf("humanize: %T is not a duration", v)
	}
	return humanDuration(d), nil
}

// seconds is n seconds, saturated rather than overflowing.
func seconds(n int64) time.Duration {
	const limit = int64(1<<63-1) / int64(time.Second)
	n = max(min(n, limit), -limit)
	return time.Duration(n) * time.Second
}

func humanDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
		if d < 0 { // the most negative duration
			d = 1<<63 - 1
		}
	}
	if d < time.Minute {
		return sign + d.Round(time.Millisecond).String()
	}
	var parts []string
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.d; n > 0 {
			parts = append(parts, strconv.FormatInt(int64(n), 10)+u.name)
			d -= n * u.d
		}
	}
	return sign + strings.Join(parts, " ")
}

// zones caches the zones inzone loaded: loading one reads a file.
var zones sync.Map // string -> *time.Location

func inzone(zone string, v any) (time.Time, error) {
	t, ok := v.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("inzone: %T is not a time", v)
	}
	if l, ok := zones.Load(zone); ok {
		return t.In(l.(*time.Location)), nil
	}
	if len(zone) > 64 {
		return time.Time{}, fmt.Errorf("inzone: unknown time zone %q", channels.Truncate(zone, 64))
	}
	l, err := time.LoadLocation(zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("inzone: unknown time zone %q", channels.Truncate(zone, 64))
	}
	zones.Store(zone, l)
	return t.In(l), nil
}

func date(layout string, v any) (string, error) {
	t, ok := v.(time.Time)
	if !ok {
		return "", fmt.Errorf("date: %T is not a time", v)
	}
	return capped1("date", t.Format(layout))
}

// jsonText is v as one JSON value, HTML characters as they are.
func jsonText(v any) (string, error) {
	if size(v) > MaxOutput {
		return "", fmt.Errorf("json: %w (%d bytes)", errTooBig, MaxOutput)
	}
	b, err := channels.MarshalJSON(v)
	if err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return capped1("json", string(b))
}
