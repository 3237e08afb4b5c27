package jsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzCheck: any input that decodes is walked without a panic, and a
// reported offset points at a key's opening quote.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[{"c":1,"c":2}]}}`, `[1,{"x":"\u0078","x":0}]`, `"s"`, `{}`, "{\"\xff\":1,\"\xfe\":2}"} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`[hh{"a":1,"a":2}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Any input at all: Check returns (a hang fails the fuzz run).
		Check(data)
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		// The fast scan never misses what the exact walk finds.
		dec := json.NewDecoder(bytes.NewReader(data))
		var dup *DuplicateError
		if errors.As(walk(dec, data, ""), &dup) && !fastScan(data) {
			t.Fatalf("fastScan missed the duplicate %v in %q", dup, data)
		}
		if err := Check(data); err != nil {
			d := err.(*DuplicateError)
			if d.Offset < 0 || int(d.Offset) >= len(data) || data[d.Offset] != '"' {
				t.Fatalf("offset %d does not point at a quote in %q", d.Offset, data)
			}
		}
	})
}
