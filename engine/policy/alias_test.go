package policy

import (
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

func parseNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

// nodeCount is the nodes of a tree.
func nodeCount(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += nodeCount(k)
	}
	return c
}

// expandAliases skips a document with nothing to expand: that shortcut
// must answer as the whole expansion does, and be taken only when the
// expansion would change nothing.
func TestExpandAliasesShortcut(t *testing.T) {
	plain := []string{
		"a: 1\n",
		"channels:\n  pager: {type: pagerduty}\nrules:\n  - {name: r, when: 'true', notify: [pager]}\n",
		"a: &anchor {b: [1, 2, {c: d}]}\ne: f\n", // an anchor that no alias names
		"- x\n- [y, {z: w}]\n",
	}
	for _, src := range plain {
		doc := parseNode(t, src)
		n, ok := plainSize(doc, 0)
		if !ok || n != nodeCount(doc) {
			t.Errorf("%q: plainSize %d, %v; want %d, true", src, n, ok, nodeCount(doc))
		}
		if err := expandAliases(doc); err != nil {
			t.Errorf("%q: %v", src, err)
		}
		expanded := parseNode(t, src)
		if err := expandAll(expanded); err != nil {
			t.Errorf("%q: expandAll: %v", src, err)
		}
		if !reflect.DeepEqual(doc, expanded) {
			t.Errorf("%q: the shortcut left a tree the expansion does not", src)
		}
	}
	for _, src := range []string{
		"a: &x 1\nb: *x\n",
		"base: &b {k: v}\nm:\n  <<: *b\n  o: p\n",
		"m:\n  <<: {k: v}\n",
		"- a\n- &l [1]\n- *l\n",
	} {
		if _, ok := plainSize(parseNode(t, src), 0); ok {
			t.Errorf("%q: plainSize says nothing to expand", src)
		}
	}
	odd := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "k"}}}
	if _, ok := plainSize(odd, 0); ok {
		t.Error("a mapping with an odd number of nodes: plainSize says nothing to expand (mergeKeys drops the last)")
	}
}
