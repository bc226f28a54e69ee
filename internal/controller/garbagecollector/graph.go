package garbagecollector

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objectKey identifies one object; it is the workqueue item.
type objectKey struct {
	resource  schema.GroupVersionResource
	namespace string
	name      string
	uid       types.UID
}

// node is what the collector knows about one object.
type node struct {
	key             objectKey
	resourceVersion string
	owners          []metav1.OwnerReference
	deleting        bool
	finalizers      []string
}

func (n *node) hasFinalizer(f string) bool {
	for _, x := range n.finalizers {
		if x == f {
			return true
		}
	}
	return false
}

// graph indexes the observed objects by UID and their dependents by owner
// UID. It is safe for concurrent use.
type graph struct {
	mu         sync.RWMutex
	nodes      map[types.UID]*node
	dependents map[types.UID]map[types.UID]struct{}
}

func newGraph() *graph {
	return &graph{nodes: map[types.UID]*node{}, dependents: map[types.UID]map[types.UID]struct{}{}}
}

// upsert records n, replacing an earlier version.
func (g *graph) upsert(n *node) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.nodes[n.key.uid]; ok {
		g.unlinkLocked(old)
	}
	g.nodes[n.key.uid] = n
	for _, o := range n.owners {
		deps := g.dependents[o.UID]
		if deps == nil {
			deps = map[types.UID]struct{}{}
			g.dependents[o.UID] = deps
		}
		deps[n.key.uid] = struct{}{}
	}
}

// remove forgets the object with uid.
func (g *graph) remove(uid types.UID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.nodes[uid]; ok {
		g.unlinkLocked(old)
		delete(g.nodes, uid)
	}
}

func (g *graph) unlinkLocked(n *node) {
	for _, o := range n.owners {
		if deps := g.dependents[o.UID]; deps != nil {
			delete(deps, n.key.uid)
			if len(deps) == 0 {
				delete(g.dependents, o.UID)
			}
		}
	}
}

// get returns a copy of the node with uid.
func (g *graph) get(uid types.UID) (*node, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n, ok := g.nodes[uid]
	if !ok {
		return nil, false
	}
	cp := *n
	return &cp, true
}

// dependentsOf returns copies of the observed dependents of owner uid.
func (g *graph) dependentsOf(uid types.UID) []*node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []*node
	for d := range g.dependents[uid] {
		if n, ok := g.nodes[d]; ok {
			cp := *n
			out = append(out, &cp)
		}
	}
	return out
}
