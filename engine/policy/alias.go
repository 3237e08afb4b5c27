package policy

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// maxExpandedNodes bounds a policy with its aliases expanded: a few
// thousand rules are some tens of thousands of nodes, and aliases of
// aliases (the "billion laughs") must not make every later walk of the
// tree take forever.
const maxExpandedNodes = 1_000_000

// expandAliases rewrites a parsed file so the loader sees plain YAML:
// every alias (*name) is replaced by the node its anchor names, and every
// merge key (<<: *base, or a list of them) by the keys it brings that the
// mapping does not set itself. Problems then point at the anchor's
// definition. It fails, saying why, on an alias inside the node it names
// (YAML without an end) and when the expanded document would exceed
// maxExpandedNodes.
func expandAliases(doc *yaml.Node) *aliasError {
	if n, plain := plainSize(doc, 0); plain {
		// Nothing to expand, and a tree: its size is its node count. (Every
		// run loads the policy, and most policies have no alias: the walk
		// below keeps maps of every node.)
		if n > maxExpandedNodes {
			return tooLarge()
		}
		return nil
	}
	return expandAll(doc)
}

// expandAll is expandAliases without its shortcut for a document with
// nothing to expand.
func expandAll(doc *yaml.Node) *aliasError {
	done, open := map[*yaml.Node]bool{}, map[*yaml.Node]bool{}
	var cycle *yaml.Node
	var expand func(n *yaml.Node) *yaml.Node
	expand = func(n *yaml.Node) *yaml.Node {
		alias := n
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		if open[n] {
			if cycle == nil {
				cycle = alias
			}
			return alias // left as it is: the document is refused below
		}
		if done[n] {
			return n
		}
		done[n], open[n] = true, true
		for i, c := range n.Content {
			n.Content[i] = expand(c)
		}
		open[n] = false
		if n.Kind == yaml.MappingNode {
			mergeKeys(n)
		}
		return n
	}
	expand(doc)
	if cycle != nil {
		return &aliasError{cycle.Line, cycle.Column, fmt.Sprintf("alias *%s is inside the node its anchor names: it would never end", cycle.Value)}
	}
	sizes := map[*yaml.Node]int{}
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if s, ok := sizes[n]; ok {
			return s
		}
		s := 1
		for _, c := range n.Content {
			if s += size(c); s > maxExpandedNodes {
				break
			}
		}
		sizes[n] = s
		return s
	}
	if size(doc) > maxExpandedNodes {
		return tooLarge()
	}
	return nil
}

func tooLarge() *aliasError {
	return &aliasError{1, 1, fmt.Sprintf("the aliases expand to more than %d YAML nodes", maxExpandedNodes)}
}

// plainSize adds to n the nodes of the tree at doc, and reports whether
// expandAliases has nothing to do in it: no alias, and no mapping that
// mergeKeys would change (a merge key, or an odd number of nodes).
func plainSize(doc *yaml.Node, n int) (int, bool) {
	if doc.Kind == yaml.AliasNode || doc.Kind == yaml.MappingNode && !unmerged(doc) {
		return n, false
	}
	n++
	for _, c := range doc.Content {
		var plain bool
		if n, plain = plainSize(c, n); !plain {
			return n, false
		}
	}
	return n, true
}

// unmerged reports whether mergeKeys leaves mapping n as it is.
func unmerged(n *yaml.Node) bool {
	if len(n.Content)%2 != 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		if n.Content[i].Tag == "!!merge" {
			return false
		}
	}
	return true
}

// aliasError is why a document's aliases cannot be expanded, and where.
type aliasError struct {
	line, col int
	msg       string
}

// mergeKeys replaces the << entries of mapping n by the keys of the
// mappings they name that n does not set, earlier merges first.
func mergeKeys(n *yaml.Node) {
	if unmerged(n) {
		return // what follows would leave it as it is
	}
	var own, merged []*yaml.Node
	set := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Tag != "!!merge" {
			own = append(own, k, n.Content[i+1])
			set[k.Value] = true
		}
	}
	if len(own) == len(n.Content) {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Tag != "!!merge" {
			continue
		}
		sources := []*yaml.Node{n.Content[i+1]}
		if v := n.Content[i+1]; v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, src := range sources {
			if src.Kind != yaml.MappingNode {
				continue // yaml.v3 rejects such a merge when it parses
			}
			for j := 0; j+1 < len(src.Content); j += 2 {
				if k := src.Content[j]; !set[k.Value] {
					merged = append(merged, k, src.Content[j+1])
					set[k.Value] = true
				}
			}
		}
	}
	n.Content = append(own, merged...)
}
