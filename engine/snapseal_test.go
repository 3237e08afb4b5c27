package engine

import (
	"notifier/engine/policy"
	"testing"
)

// TestSealRefusesEveryByteChange: whatever byte of a snapshot changes,
// it is refused before a byte of it is decoded.
func TestSealRefusesEveryByteChange(t *testing.T) {
	p, ps := Compile([]policy.Source{{Name: "p.yaml", Data: []byte(channelsYAML +
		"rules:\n  - {name: crit, when: 'severity == \"critical\" && count > 2', notify: [pager]}\n")}}, policy.Options{})
	if p == nil {
		t.Fatal(ps)
	}
	body, err := encodeSnapshot(p)
	if err != nil {
		t.Fatal(err)
	}
	id := policyID{Root: "/etc/notifier/p.yaml", Files: []fileID{{Name: "p.yaml", Path: "/etc/notifier/p.yaml"}}}
	data := sealSnapshot(snapKey{1}, id, body)
	if _, got, b, err := unsealSnapshot(data); err != nil || got.Root != id.Root || len(b) != len(body) {
		t.Fatalf("intact: %v %v", got, err)
	}
	for i := range data {
		for _, bit := range []byte{0x01, 0x80} {
			data[i] ^= bit
			if _, _, _, err := unsealSnapshot(data); err == nil {
				t.Fatalf("byte %d of %d xor %#x accepted", i, len(data), bit)
			}
			data[i] ^= bit
		}
	}
}
