package engine

import (
	"strings"
	"sync"
)

// Why an event matched no output: the condition chain of the output
// section it went through, e.g. `if [type] == 'x' → false; else if [a] →
// false`. Counted per chain: routeOne records the branch each condition
// took as it routes (one byte per if, no second evaluation of conditions).

// Budget of the chains counted per pipeline; past it they count under
// otherChain.
const (
	maxUnroutedChains = 16
	otherChain        = "(other)"
	// maxChainDepth bounds the branch choices recorded for one event.
	maxChainDepth = 64
)

// unroutedChains counts unrouted events by chain.
type unroutedChains struct {
	mu     sync.Mutex
	counts map[string]*chainCount // key: the branch choices, one byte each
}

type chainCount struct {
	text string
	n    int64
}

// chainText renders the chain key stands for.
func chainText(nodes []node, key []byte) string {
	var parts []string
	var walk func(nodes []node)
	walk = func(nodes []node) {
		for _, nd := range nodes {
			n, ok := nd.(*ifNode)
			if !ok || len(key) == 0 {
				continue
			}
			i := int(key[0])
			key = key[1:]
			for j := 0; j < len(n.branches) && j <= i; j++ {
				kw := "if "
				if j > 0 {
					kw = "else if "
				}
				res := "false"
				if j == i {
					res = "true"
				}
				parts = append(parts, kw+n.branches[j].text+" → "+res)
			}
			body := n.els
			if i < len(n.branches) {
				body = n.branches[i].body
			} else if len(n.els) > 0 {
				parts = append(parts, "else")
			}
			walk(body)
		}
	}
	walk(nodes)
	if len(parts) == 0 {
		return "(no output outside conditions)"
	}
	return strings.Join(parts, "; ")
}

// noteUnrouted counts the chains of a batch's unrouted events (keys as
// routeOne made them: the branch each if node took, one byte each, depth
// first, at most maxChainDepth).
func (p *Pipeline) noteUnrouted(keys map[string]int64) {
	c := &p.unrouted
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]*chainCount{}
	}
	for k, n := range keys {
		cc := c.counts[k]
		if cc == nil {
			if len(c.counts) >= maxUnroutedChains {
				k = "\xff" + otherChain
				if cc = c.counts[k]; cc == nil {
					cc = &chainCount{text: otherChain}
					c.counts[k] = cc
				}
			} else {
				cc = &chainCount{text: chainText(p.routes, []byte(k))}
				c.counts[k] = cc
			}
		}
		cc.n += n
	}
}

// unroutedSnapshot returns the unrouted events counted by condition chain.
func (p *Pipeline) unroutedSnapshot() map[string]int64 {
	c := &p.unrouted
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.counts) == 0 {
		return nil
	}
	out := make(map[string]int64, len(c.counts))
	for _, cc := range c.counts {
		out[cc.text] += cc.n
	}
	return out
}
