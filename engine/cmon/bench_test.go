package cmon

import "testing"

// BenchmarkDecode is the warm cost of one decode. The binary decodes once
// per process, so the cold first call (reflection set-up, first touch of
// code and heap) matters more and needs a fresh process to time; this
// guards the work done per message.
func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name string
		data []byte
	}{
		{"envelope", readSample(b, "alarm-new-critical.json")},
		{"cmonalarm", readSample(b, "cmonalarm-object.json")},
		// Nested values take the slower path that keeps their exact text.
		{"nested", []byte(`{"type":"alarm","action":"new","alarm":{"id":7,"cid":1,"severity":"ALARM_CRITICAL",` +
			`"hosts":[{"h":"db1","port":3306},{"h":"db2","port":3306}],"message":"m"}}`)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(c.data, testOpts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
