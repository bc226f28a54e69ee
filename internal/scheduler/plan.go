package scheduler

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// decision is where a pod goes, or why it cannot go anywhere.
type decision struct {
	node    string
	message string // set when unschedulable
}

// schedule picks the feasible node with the highest least-allocated score
// (ties: first by name), or explains why none fits in kube-scheduler's
// "0/N nodes are available: ..." form.
func schedule(pod *corev1.Pod, nodes []*nodeInfo) decision {
	req := podRequests(pod)
	scoring := scoringRequests(req)
	aff := nodeaffinity.GetRequiredNodeAffinity(pod)
	reasons := map[string]int{}
	best, bestScore := "", int64(-1)
	for _, n := range nodes {
		if why := filter(pod, req, n, aff); len(why) > 0 {
			for _, r := range why {
				reasons[r]++
			}
			continue
		}
		s := score(scoring, n)
		if s > bestScore || (s == bestScore && n.node.Name < best) {
			best, bestScore = n.node.Name, s
		}
	}
	if best != "" {
		return decision{node: best}
	}
	return decision{message: unschedulableMessage(len(nodes), reasons)}
}

func unschedulableMessage(total int, reasons map[string]int) string {
	if total == 0 {
		return "no nodes available to schedule pods"
	}
	msg := fmt.Sprintf("0/%d nodes are available", total)
	var parts []string
	resolvable := false
	for r, n := range reasons {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
		if strings.HasPrefix(r, "Insufficient ") || r == reasonTooManyPods {
			resolvable = true
		}
	}
	sort.Strings(parts)
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, ", ")
	}
	msg += "."
	// No preemption is done; say so the way kube-scheduler's post-filter does.
	if resolvable {
		return msg + fmt.Sprintf(" preemption: 0/%d nodes are available: %d No preemption victims found for incoming pod.", total, total)
	}
	return msg + fmt.Sprintf(" preemption: 0/%d nodes are available: %d Preemption is not helpful for scheduling.", total, total)
}
