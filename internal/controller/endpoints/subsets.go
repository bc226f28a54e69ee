package endpoints

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// maxCapacity is the most addresses one Endpoints object holds; beyond it
// the object is truncated and annotated, as upstream does.
const maxCapacity = 1000

// overCapacityValue marks a truncated Endpoints object.
const overCapacityValue = "truncated"

// serviceIPSet reports whether the Service has a cluster IP (is not headless).
func serviceIPSet(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

// podInEndpoints reports whether a pod may appear in the Service's
// Endpoints at all: it has an IP, is not terminal, and is not terminating
// unless the Service tolerates that.
func podInEndpoints(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	return includeTerminating || pod.DeletionTimestamp == nil
}

// podReady reports the pod's Ready condition.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podIPFor picks the pod address in the Service's IP family.
func podIPFor(svc *corev1.Service, pod *corev1.Pod) (string, error) {
	wantV6 := false
	switch {
	case len(svc.Spec.IPFamilies) > 0:
		wantV6 = svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	case serviceIPSet(svc):
		wantV6 = strings.Contains(svc.Spec.ClusterIP, ":")
	default:
		wantV6 = strings.Contains(pod.Status.PodIP, ":")
	}
	ips := make([]string, 0, len(pod.Status.PodIPs)+1)
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 {
		ips = append(ips, pod.Status.PodIP)
	}
	for _, ip := range ips {
		if ip != "" && strings.Contains(ip, ":") == wantV6 {
			return ip, nil
		}
	}
	return "", fmt.Errorf("failed to find a matching endpoint for service %v", svc.Name)
}

// findPort resolves a Service port's targetPort on a pod: a number is used
// as is, a name is looked up among the pod's container ports of the same
// protocol (including restartable init containers).
func findPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return sp.Port, nil
		}
		return tp.IntVal, nil
	}
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	match := func(cs []corev1.Container, sidecarsOnly bool) (int32, bool) {
		for _, c := range cs {
			if sidecarsOnly && (c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways) {
				continue
			}
			for _, p := range c.Ports {
				pp := p.Protocol
				if pp == "" {
					pp = corev1.ProtocolTCP
				}
				if p.Name == tp.StrVal && pp == proto {
					return p.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	if n, ok := match(pod.Spec.Containers, false); ok {
		return n, nil
	}
	if n, ok := match(pod.Spec.InitContainers, true); ok {
		return n, nil
	}
	return 0, fmt.Errorf("no suitable port for manifest: %s", pod.UID)
}

// desiredSubsets computes the Endpoints subsets for svc from the pods its
// selector matches, in canonical (repacked, sorted) form.
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	tolerate := svc.Spec.PublishNotReadyAddresses
	var entries []entry
	for _, pod := range pods {
		if !podInEndpoints(pod, tolerate) {
			continue
		}
		ip, err := podIPFor(svc, pod)
		if err != nil {
			continue
		}
		addr := corev1.EndpointAddress{
			IP:       ip,
			NodeName: nodeName(pod),
			TargetRef: &corev1.ObjectReference{
				Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
			},
		}
		if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
			addr.Hostname = pod.Spec.Hostname
		}
		ready := tolerate || podReady(pod)
		if len(svc.Spec.Ports) == 0 {
			// Only headless Services may go without ports.
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				entries = append(entries, entry{addr: addr, ready: ready, port: noPort})
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			num, err := findPort(pod, sp)
			if err != nil {
				continue
			}
			entries = append(entries, entry{addr: addr, ready: ready, port: corev1.EndpointPort{
				Name: sp.Name, Port: num, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol,
			}})
		}
	}
	return repack(entries)
}

func nodeName(pod *corev1.Pod) *string {
	if pod.Spec.NodeName == "" {
		return nil
	}
	n := pod.Spec.NodeName
	return &n
}

// noPort stands for "no ports" in a headless Service without ports.
var noPort = corev1.EndpointPort{Port: -1}

// entry is one (address, port) pair before packing into subsets.
type entry struct {
	addr  corev1.EndpointAddress
	ready bool
	port  corev1.EndpointPort
}

// repack groups addresses that offer exactly the same set of ports into one
// subset, so that equal inputs always give equal objects.
func repack(entries []entry) []corev1.EndpointSubset {
	type member struct {
		addr  corev1.EndpointAddress
		ready bool
	}
	// address key -> member, and the ports it offers
	members := map[string]member{}
	portsOf := map[string][]corev1.EndpointPort{}
	for _, e := range entries {
		k := addrKey(e.addr) + "|" + fmt.Sprint(e.ready)
		members[k] = member{addr: e.addr, ready: e.ready}
		if !slices.Contains(portsOf[k], e.port) {
			portsOf[k] = append(portsOf[k], e.port)
		}
	}
	groups := map[string]*corev1.EndpointSubset{}
	var order []string
	for k, m := range members {
		ports := portsOf[k]
		slices.SortFunc(ports, comparePorts)
		gk := portsKey(ports)
		g, ok := groups[gk]
		if !ok {
			g = &corev1.EndpointSubset{}
			for _, p := range ports {
				if p != noPort {
					g.Ports = append(g.Ports, p)
				}
			}
			groups[gk] = g
			order = append(order, gk)
		}
		if m.ready {
			g.Addresses = append(g.Addresses, m.addr)
		} else {
			g.NotReadyAddresses = append(g.NotReadyAddresses, m.addr)
		}
	}
	slices.Sort(order)
	out := make([]corev1.EndpointSubset, 0, len(order))
	for _, gk := range order {
		g := groups[gk]
		slices.SortFunc(g.Addresses, compareAddrs)
		slices.SortFunc(g.NotReadyAddresses, compareAddrs)
		out = append(out, *g)
	}
	return out
}

func addrKey(a corev1.EndpointAddress) string {
	if a.TargetRef != nil {
		return a.IP + "/" + string(a.TargetRef.UID) + "/" + a.TargetRef.Name
	}
	return a.IP
}

func portsKey(ps []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s/%d/%s;", p.Name, p.Port, p.Protocol)
	}
	return b.String()
}

func comparePorts(a, b corev1.EndpointPort) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
}

func compareAddrs(a, b corev1.EndpointAddress) int {
	return cmp.Compare(addrKey(a), addrKey(b))
}

// truncate keeps at most maxCapacity addresses, preferring ready ones and
// sharing the cut across subsets in proportion to their size. It reports
// whether anything was dropped.
func truncate(subsets []corev1.EndpointSubset) bool {
	ready, notReady := 0, 0
	for _, s := range subsets {
		ready += len(s.Addresses)
		notReady += len(s.NotReadyAddresses)
	}
	if ready+notReady <= maxCapacity {
		return false
	}
	cutReady := ready > maxCapacity
	budget, total := maxCapacity-ready, notReady
	if cutReady {
		budget, total = maxCapacity, ready
	}
	left := budget
	for i := range subsets {
		s := &subsets[i]
		n := len(s.NotReadyAddresses)
		if cutReady {
			n = len(s.Addresses)
		}
		keep := min((n*budget+total-1)/total, left, n)
		if cutReady {
			s.Addresses = s.Addresses[:keep]
			s.NotReadyAddresses = nil
		} else {
			s.NotReadyAddresses = s.NotReadyAddresses[:keep]
		}
		left -= keep
	}
	return true
}

// dropEmpty removes subsets left without any address after truncation.
func dropEmpty(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	return slices.DeleteFunc(subsets, func(s corev1.EndpointSubset) bool {
		return len(s.Addresses) == 0 && len(s.NotReadyAddresses) == 0
	})
}
