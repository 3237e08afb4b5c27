package policy

import (
	"maps"
	"slices"

	"go.yaml.in/yaml/v3"
)

// MapKeys returns m's keys, sorted (the names a did-you-mean offers).
func MapKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// MappingValue returns the value of key in mapping n, or n itself when
// absent, so that a problem about the key has a position either way.
func MappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	return n
}

// ItemNode returns item i of sequence n, or n itself.
func ItemNode(n *yaml.Node, i int) *yaml.Node {
	if n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}
