package msteams

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestOversizedCardFitsTheLimit posts a message whose texts and facts
// add up to far more than Teams' 28 KB to the local webhook, which
// refuses what Teams would lose: the card must arrive, within the limit,
// with what identifies the event kept, the largest facts left out first
// and a note saying so.
func TestOversizedCardFitsTheLimit(t *testing.T) {
	s := newTeams(t)
	huge := strings.Repeat("<&>é", 50000)
	m := sampleMessage()
	m.Summary, m.Text, m.Recommendation = huge, huge, huge
	m.Key = strings.Repeat("k", 100000)
	m.Parts = map[string]string{"facts.Owner": "dba"}
	for i := range 30 {
		m.Parts[fmt.Sprintf("facts.Big%02d", i)] = strings.Repeat("v", 1500+i) // Big29 is the largest
	}
	if err := notifierFor(t, s).Notify(context.Background(), m); err != nil {
		t.Fatalf("oversized card: %v", err)
	}
	req := s.Requests()[0]
	if len(req.Raw) > maxPayload {
		t.Errorf("card of %d bytes, want ≤ %d", len(req.Raw), maxPayload)
	}
	card := s.LastCard()
	f := factMap(card)
	for _, k := range []string{"Cluster", "Node", "Event type", "Key", "Rule", "Time", "Count", "Owner"} {
		if f[k] == "" {
			t.Errorf("fact %s left out; the small facts must stay", k)
		}
	}
	if f["Big29"] != "" || f["Big00"] == "" {
		t.Errorf("Big29 %d bytes, Big00 %d bytes: the largest must go first", len(f["Big29"]), len(f["Big00"]))
	}
	if !strings.HasPrefix(f["Key"], strings.Repeat("k", 100)) || !strings.Contains(f["Key"], "~") || len(f["Key"]) > maxKeyLen {
		t.Errorf("key fact %q…: want the bounded, hashed form", f["Key"][:min(len(f["Key"]), 40)])
	}
	tx := texts(card)
	note := tx[len(tx)-1]
	if !strings.Contains(note, "facts left out (largest first) to fit Teams' 28 KB message limit") {
		t.Errorf("last text %q, want the note saying what was left out", note)
	}
	// status, title, text, "Recommendation", recommendation, note
	for _, x := range []string{tx[1], tx[2], tx[4]} {
		if !strings.HasSuffix(x, "…") || !utf8.ValidString(x) || !strings.HasPrefix(x, "<&>é") {
			t.Errorf("text of %d bytes not cut with …", len(x))
		}
	}
}

// TestEscapedTextFitsTheLimit: text that JSON spells in six bytes a
// character (control characters in an alarm's text) is cut to fit, not
// sent over the limit.
func TestEscapedTextFitsTheLimit(t *testing.T) {
	s := newTeams(t)
	m := sampleMessage()
	m.Text = strings.Repeat("\x01", maxTextLen)
	m.Recommendation = strings.Repeat("\x02", maxRecommendLen)
	m.Summary = strings.Repeat("\x03\u2028", maxTitleLen/4)
	if err := notifierFor(t, s).Notify(context.Background(), m); err != nil {
		t.Fatalf("escaped card: %v", err)
	}
	if n := len(s.Requests()[0].Raw); n > maxPayload {
		t.Errorf("card of %d bytes, want ≤ %d", n, maxPayload)
	}
	card := s.LastCard()
	if f := factMap(card); len(f) != 7 || f["Node"] != "db1" {
		t.Errorf("facts %v: all must stay, the texts are what is too big", f)
	}
	for _, x := range texts(card)[1:] {
		if x != "Recommendation" && !strings.HasSuffix(x, "…") {
			t.Errorf("text of %d bytes not cut with …: %q", len(x), x)
		}
	}
}

// TestCardWithinTheLimitIsUntouched: fitting costs an ordinary card
// nothing.
func TestCardWithinTheLimitIsUntouched(t *testing.T) {
	m := sampleMessage()
	m.Parts = map[string]string{}
	for i := range 20 {
		m.Parts[fmt.Sprintf("facts.F%02d", i)] = strings.Repeat("x", 500)
	}
	p := BuildPayload(m)
	if f := factMap(p.Attachments[0].Content); len(f) != 27 {
		t.Errorf("%d facts, want all 27", len(f))
	}
	for _, tx := range texts(p.Attachments[0].Content) {
		if strings.Contains(tx, "left out") || strings.HasSuffix(tx, "…") {
			t.Errorf("a card of %d bytes was cut: %q", len(Encode(p)), tx)
		}
	}
}

func TestCutEncoded(t *testing.T) {
	for _, tt := range []struct {
		s string
		n int
	}{
		{"hello world", 100}, {"hello world", 8}, {"\x01\x01\x01\x01", 14}, {"ééé", 5}, {"abc", 1}, {"abc", -3},
	} {
		got := cutEncoded(tt.s, tt.n)
		if encodedSize(got) > tt.n && got != "" {
			t.Errorf("cutEncoded(%q, %d) = %q, %d bytes encoded", tt.s, tt.n, got, encodedSize(got))
		}
		if !utf8.ValidString(got) || !strings.HasPrefix(tt.s, strings.TrimSuffix(got, "…")) {
			t.Errorf("cutEncoded(%q, %d) = %q", tt.s, tt.n, got)
		}
	}
	if got := cutEncoded("hello world", 100); got != "hello world" {
		t.Errorf("a string that fits was cut: %q", got)
	}
}

// BenchmarkBuildPayload: what an ordinary card costs, fitting included
// (one encoding to measure it).
func BenchmarkBuildPayload(b *testing.B) {
	m := sampleMessage()
	for b.Loop() {
		Encode(BuildPayload(m))
	}
}
