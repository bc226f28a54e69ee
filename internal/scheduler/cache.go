package scheduler

import (
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// placement is what one pod holds on a node.
type placement struct {
	node string
	req  resources
}

// cache is the scheduler's view: nodes and the requests of the non-
// terminal pods placed on them, including pods reserved (assumed) but not
// yet seen bound by the informer.
type cache struct {
	mu     sync.Mutex
	nodes  map[string]*nodeInfo
	placed map[string]placement // pod key → placement
}

func newCache() *cache {
	return &cache{nodes: map[string]*nodeInfo{}, placed: map[string]placement{}}
}

func (c *cache) setNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[node.Name]
	if n == nil {
		n = &nodeInfo{}
		c.nodes[node.Name] = n
		for _, p := range c.placed {
			if p.node == node.Name {
				n.place(p.req)
			}
		}
	}
	n.node = node
	n.allocatable = nodeAllocatable(node)
}

func (c *cache) removeNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, name)
}

// setPod records where a pod runs (node "" or a terminal pod: nowhere).
func (c *cache) setPod(key, node string, req resources) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setPodLocked(key, node, req)
}

func (c *cache) setPodLocked(key, node string, req resources) {
	if old, ok := c.placed[key]; ok {
		if n := c.nodes[old.node]; n != nil {
			n.unplace(old.req)
		}
		delete(c.placed, key)
	}
	if node == "" {
		return
	}
	c.placed[key] = placement{node: node, req: req}
	if n := c.nodes[node]; n != nil {
		n.place(req)
	}
}

func (n *nodeInfo) place(req resources) {
	n.requested = n.requested.add(req)
	n.nonZeroRequested = n.nonZeroRequested.add(scoringRequests(req))
}

func (n *nodeInfo) unplace(req resources) {
	n.requested = n.requested.sub(req)
	n.nonZeroRequested = n.nonZeroRequested.sub(scoringRequests(req))
}

// scheduleAndReserve decides for the pod and, if a node fits, reserves it
// at once so concurrent decisions see the reservation.
func (c *cache) scheduleAndReserve(key string, pod *corev1.Pod) decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.placed[key]; ok {
		// Already reserved by an earlier attempt whose bind is in flight.
		return decision{node: p.node}
	}
	nodes := make([]*nodeInfo, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].node.Name < nodes[j].node.Name })
	d := schedule(pod, nodes)
	if d.node != "" {
		c.setPodLocked(key, d.node, podRequests(pod))
	}
	return d
}

// unreserve drops a reservation whose bind failed.
func (c *cache) unreserve(key, node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.placed[key]; ok && p.node == node {
		c.setPodLocked(key, "", resources{})
	}
}
