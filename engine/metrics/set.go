package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Set is a Sink kept in memory: what one process observed, and what
// the textfile held before it (Merge). Not safe for concurrent use.
type Set struct {
	fams  map[*Def]map[string]*series
	reset map[*Def]bool // gauge families this set replaces whole
}

type series struct {
	labels []string
	value  float64
	counts []float64 // Histogram: per bucket, not cumulative (+Inf last)
	sum    float64
}

// NewSet makes an empty Set.
func NewSet() *Set {
	return &Set{fams: map[*Def]map[string]*series{}, reset: map[*Def]bool{}}
}

func (s *Set) get(d *Def, labels []string) *series {
	if len(labels) != len(d.Labels) {
		panic(fmt.Sprintf("metrics: %s takes %d labels, got %d", d.Name, len(d.Labels), len(labels)))
	}
	m := s.fams[d]
	if m == nil {
		m = map[string]*series{}
		s.fams[d] = m
	}
	k := strings.Join(labels, "\xff")
	se := m[k]
	if se == nil {
		se = &series{labels: slices.Clone(labels)}
		if d.Kind == Histogram {
			se.counts = make([]float64, len(d.Buckets)+1)
		}
		m[k] = se
	}
	return se
}

// Add adds v to a counter.
func (s *Set) Add(d *Def, v float64, labels ...string) { s.get(d, labels).value += v }

// Observe adds one observation to a histogram.
func (s *Set) Observe(d *Def, v float64, labels ...string) {
	se := s.get(d, labels)
	i, _ := slices.BinarySearch(d.Buckets, v) // the first bound >= v
	se.counts[i]++
	se.sum += v
}

// Set sets a gauge.
func (s *Set) Set(d *Def, v float64, labels ...string) { s.get(d, labels).value = v }

// Reset says this set gives the whole of gauge family d.
func (s *Set) Reset(d *Def) {
	s.reset[d] = true
	delete(s.fams, d)
}

// Value is a series' value (a counter's or gauge's; a histogram's
// count), 0 when it has none: for tests and the self-alerts.
func (s *Set) Value(d *Def, labels ...string) float64 {
	se := s.fams[d][strings.Join(labels, "\xff")]
	switch {
	case se == nil:
		return 0
	case d.Kind == Histogram:
		var n float64
		for _, c := range se.counts {
			n += c
		}
		return n
	}
	return se.value
}

// Empty says nothing was observed or set.
func (s *Set) Empty() bool { return len(s.fams) == 0 && len(s.reset) == 0 }

// Merge adds what old holds to s: counters and histograms add up; a
// gauge keeps s's value where s set it, old's elsewhere (all of old's
// family is dropped when s Reset it).
func (s *Set) Merge(old *Set) {
	for d, m := range old.fams {
		if d.Kind == Gauge && s.reset[d] {
			continue
		}
		for _, o := range m {
			se, had := s.fams[d][strings.Join(o.labels, "\xff")]
			if !had {
				se = s.get(d, o.labels)
				se.value = o.value
				copy(se.counts, o.counts)
				se.sum = o.sum
				continue
			}
			if d.Kind == Gauge {
				continue
			}
			se.value += o.value
			for i := range se.counts {
				se.counts[i] += o.counts[i]
			}
			se.sum += o.sum
		}
	}
}

// WriteText writes s in Prometheus' text exposition format (version
// 0.0.4), the families in All's order, the series sorted by labels;
// engine-only families are left out.
func (s *Set) WriteText(w *bytes.Buffer) { s.write(w, true) }

// writeSamples is WriteText without the HELP and TYPE lines, and with a
// "#reset NAME" line for each family s replaces whole: a journal block.
func (s *Set) writeSamples(w *bytes.Buffer) {
	for _, d := range All {
		if s.reset[d] {
			fmt.Fprintf(w, "%s%s\n", resetMark, d.Name)
		}
	}
	s.write(w, false)
}

// resetMark starts a journal line naming a gauge family replaced whole.
const resetMark = "#reset "

func (s *Set) write(w *bytes.Buffer, meta bool) {
	for _, d := range All {
		m := s.fams[d]
		if len(m) == 0 || d.EngineOnly {
			continue
		}
		if meta {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", d.Name, escapeHelp(d.Help), d.Name, d.Kind)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			se := m[k]
			if d.Kind != Histogram {
				writeSample(w, d.Name, d.Labels, se.labels, "", "", se.value)
				continue
			}
			var cum float64
			for i, c := range se.counts {
				cum += c
				le := "+Inf"
				if i < len(d.Buckets) {
					le = formatFloat(d.Buckets[i])
				}
				writeSample(w, d.Name+"_bucket", d.Labels, se.labels, "le", le, cum)
			}
			writeSample(w, d.Name+"_sum", d.Labels, se.labels, "", "", se.sum)
			writeSample(w, d.Name+"_count", d.Labels, se.labels, "", "", cum)
		}
	}
}

func writeSample(w *bytes.Buffer, name string, names, values []string, extra, extraValue string, v float64) {
	w.WriteString(name)
	if len(names) > 0 || extra != "" {
		w.WriteByte('{')
		for i, n := range names {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(n)
			w.WriteString(`="`)
			w.WriteString(escapeLabel(values[i]))
			w.WriteByte('"')
		}
		if extra != "" {
			if len(names) > 0 {
				w.WriteByte(',')
			}
			w.WriteString(extra + `="` + extraValue + `"`)
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// ParseText reads what WriteText wrote: the samples of known families
// with the labels their Def gives. Anything else (comments, families
// of another version, lines that do not parse) is left out; bad counts
// how many sample lines were.
func ParseText(data []byte) (s *Set, bad int) {
	s = NewSet()
	byName := map[string]*Def{}
	for _, d := range All {
		if d.EngineOnly {
			continue
		}
		if d.Kind == Histogram {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				byName[d.Name+suf] = d
			}
		} else {
			byName[d.Name] = d
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, resetMark); ok {
			for _, d := range All {
				if d.Name == name && d.Kind == Gauge {
					s.Reset(d)
				}
			}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if !parseLine(s, byName, line) {
			bad++
		}
	}
	for d, m := range s.fams {
		if d.Kind == Histogram {
			for _, se := range m {
				uncumulate(se.counts)
			}
		}
	}
	return s, bad
}

func parseLine(s *Set, byName map[string]*Def, line string) bool {
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	v, err := strconv.ParseFloat(line[sp+1:], 64)
	if err != nil {
		return false
	}
	head := line[:sp]
	name, rest, _ := strings.Cut(head, "{")
	d := byName[name]
	if d == nil {
		return false
	}
	pairs, ok := parseLabels(strings.TrimSuffix(rest, "}"), rest == "" || strings.HasSuffix(rest, "}"))
	if !ok {
		return false
	}
	labels := make([]string, len(d.Labels))
	for i, n := range d.Labels {
		val, have := pairs[n]
		if !have {
			return false
		}
		labels[i] = val
	}
	if len(pairs) != len(d.Labels)+btoi(d.Kind == Histogram && strings.HasSuffix(name, "_bucket")) {
		return false
	}
	se := s.get(d, labels)
	switch {
	case d.Kind != Histogram:
		se.value = v
	case strings.HasSuffix(name, "_sum"):
		se.sum = v
	case strings.HasSuffix(name, "_bucket"):
		// Cumulative as written: kept as such here, made per bucket
		// once every bucket of the series is read (below, by bound).
		le := pairs["le"]
		i := len(d.Buckets)
		if le != "+Inf" {
			f, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return false
			}
			j, found := slices.BinarySearch(d.Buckets, f)
			if !found {
				return false // buckets of another version: dropped
			}
			i = j
		}
		se.counts[i] = v // cumulative until ParseText ends
	}
	return true
}

// uncumulate turns a histogram's cumulative bucket counts, as written,
// into per-bucket ones; a bucket line that was missing counts nothing.
func uncumulate(counts []float64) {
	for i := 1; i < len(counts); i++ {
		counts[i] = max(counts[i], counts[i-1])
	}
	for i := len(counts) - 1; i > 0; i-- {
		counts[i] -= counts[i-1]
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// parseLabels reads `a="x",b="y"` (the braces already taken off).
func parseLabels(s string, closed bool) (map[string]string, bool) {
	out := map[string]string{}
	if !closed {
		return nil, false
	}
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return nil, false
		}
		name := s[:eq]
		s = s[eq+2:]
		var b strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				default:
					b.WriteByte(s[i])
				}
				continue
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, false
		}
		out[name] = b.String()
		s = s[i+1:]
		if s != "" {
			if s[0] != ',' {
				return nil, false
			}
			s = s[1:]
		}
	}
	return out, true
}
