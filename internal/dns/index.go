package dns

import (
	"net"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// srvTarget is one SRV answer before weights are assigned.
type srvTarget struct {
	port   uint16
	target string // fully qualified
}

// records are the answers held for one name.
type records struct {
	a, aaaa []net.IP
	srv     []srvTarget
	cname   string // fully qualified
}

// index holds the cluster-domain names built from Services and Endpoints.
// Event handlers rebuild one Service's names at a time; queries read a
// single map entry.
type index struct {
	domain string // "cluster.local." (fully qualified, lower case)

	mu        sync.RWMutex
	services  map[string]*corev1.Service
	endpoints map[string]*corev1.Endpoints
	names     map[string]*records
	owned     map[string][]string // service key -> names it produced
	// parents counts the names below each ancestor, so that an empty
	// non-terminal (e.g. <ns>.svc.<domain>) answers NOERROR, not NXDOMAIN.
	parents map[string]int
}

func newIndex(domain string) *index {
	return &index{
		domain:    strings.ToLower(strings.Trim(domain, ".")) + ".",
		services:  map[string]*corev1.Service{},
		endpoints: map[string]*corev1.Endpoints{},
		names:     map[string]*records{},
		owned:     map[string][]string{},
		parents:   map[string]int{},
	}
}

func key(ns, name string) string { return ns + "/" + name }

func (x *index) setService(svc *corev1.Service) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := key(svc.Namespace, svc.Name)
	x.services[k] = svc
	x.rebuild(k)
}

func (x *index) deleteService(ns, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := key(ns, name)
	delete(x.services, k)
	x.rebuild(k)
}

func (x *index) setEndpoints(ep *corev1.Endpoints) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := key(ep.Namespace, ep.Name)
	x.endpoints[k] = ep
	x.rebuild(k)
}

func (x *index) deleteEndpoints(ns, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := key(ns, name)
	delete(x.endpoints, k)
	x.rebuild(k)
}

// lookup returns the records of a lower-case fully qualified name, and
// whether the name exists at all (possibly without records).
func (x *index) lookup(name string) (*records, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if r, ok := x.names[name]; ok {
		return r, true
	}
	return nil, x.parents[name] > 0
}

// rebuild replaces the names of one Service; the caller holds mu.
func (x *index) rebuild(k string) {
	for _, n := range x.owned[k] {
		delete(x.names, n)
		x.forParents(n, -1)
	}
	delete(x.owned, k)
	svc, ok := x.services[k]
	if !ok {
		return
	}
	built := x.build(svc, x.endpoints[k])
	names := make([]string, 0, len(built))
	for n, r := range built {
		x.names[n] = r
		x.forParents(n, +1)
		names = append(names, n)
	}
	x.owned[k] = names
}

// forParents adds d to the count of every ancestor of n inside the domain.
func (x *index) forParents(n string, d int) {
	for {
		i := strings.IndexByte(n, '.')
		if i < 0 || i == len(n)-1 {
			return
		}
		n = n[i+1:]
		if len(n) < len(x.domain) {
			return
		}
		x.parents[n] += d
		if x.parents[n] <= 0 {
			delete(x.parents, n)
		}
	}
}

// build computes every name a Service (with its Endpoints) answers for.
func (x *index) build(svc *corev1.Service, ep *corev1.Endpoints) map[string]*records {
	base := strings.ToLower(svc.Name + "." + svc.Namespace + ".svc." + x.domain)
	out := map[string]*records{base: {}}
	top := out[base]
	add := func(name string) *records {
		r, ok := out[name]
		if !ok {
			r = &records{}
			out[name] = r
		}
		return r
	}

	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		if svc.Spec.ExternalName != "" {
			top.cname = strings.ToLower(strings.TrimSuffix(svc.Spec.ExternalName, ".")) + "."
		}
	case svc.Spec.ClusterIP != corev1.ClusterIPNone && svc.Spec.ClusterIP != "":
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 {
			ips = []string{svc.Spec.ClusterIP}
		}
		for _, s := range ips {
			appendIP(top, net.ParseIP(s))
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == "" {
				continue
			}
			srvName := "_" + strings.ToLower(p.Name) + "._" + protoLabel(p.Protocol) + "." + base
			add(srvName).srv = append(add(srvName).srv, srvTarget{port: uint16(p.Port), target: base})
			top.srv = append(top.srv, srvTarget{port: uint16(p.Port), target: base})
		}
	default:
		if ep != nil {
			x.buildHeadless(base, ep, add)
		}
	}
	return out
}

// buildHeadless adds the ready endpoint addresses to the Service name, a
// name per endpoint (its hostname, or its dashed address), and SRV records
// per named port pointing at the endpoint names.
func (x *index) buildHeadless(base string, ep *corev1.Endpoints, add func(string) *records) {
	top := add(base)
	seen := map[string]bool{}
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			ip := net.ParseIP(a.IP)
			if ip == nil {
				continue
			}
			label := strings.ToLower(a.Hostname)
			if label == "" {
				label = dashed(ip)
			}
			host := label + "." + base
			if !seen[a.IP] {
				seen[a.IP] = true
				appendIP(top, ip)
			}
			if !containsIP(add(host), ip) {
				appendIP(add(host), ip)
			}
			for _, p := range ss.Ports {
				t := srvTarget{port: uint16(p.Port), target: host}
				top.srv = append(top.srv, t)
				if p.Name == "" {
					continue
				}
				srvName := "_" + strings.ToLower(p.Name) + "._" + protoLabel(p.Protocol) + "." + base
				add(srvName).srv = append(add(srvName).srv, t)
			}
		}
	}
}

func appendIP(r *records, ip net.IP) {
	if ip == nil {
		return
	}
	if v4 := ip.To4(); v4 != nil {
		r.a = append(r.a, v4)
		return
	}
	r.aaaa = append(r.aaaa, ip)
}

func containsIP(r *records, ip net.IP) bool {
	for _, have := range append(r.a, r.aaaa...) {
		if have.Equal(ip) {
			return true
		}
	}
	return false
}

func protoLabel(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

// dashed renders an address as a DNS label: 10.0.0.1 -> 10-0-0-1.
func dashed(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return strings.ReplaceAll(v4.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.String(), ":", "-")
}

// podIP parses <a-b-c-d>.<ns>.pod.<domain> names.
func (x *index) podIP(name string) (net.IP, bool) {
	rest, ok := strings.CutSuffix(name, ".pod."+x.domain)
	if !ok {
		return nil, false
	}
	label, ns, ok := strings.Cut(rest, ".")
	if !ok || ns == "" || strings.Contains(ns, ".") {
		return nil, false
	}
	parts := strings.Split(label, "-")
	if len(parts) != 4 {
		return nil, false
	}
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 255 {
			return nil, false
		}
	}
	ip := net.ParseIP(strings.Join(parts, ".")).To4()
	return ip, ip != nil
}
