package dns

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Limits the kubelet applies to a pod's resolver configuration.
const (
	maxNameservers    = 3
	maxSearchDomains  = 32
	maxSearchListChar = 2048
)

// clusterOptions are the options of ClusterFirst pods.
var clusterOptions = []string{"ndots:5"}

// resolvConf is a parsed or rendered resolv.conf.
type resolvConf struct {
	nameservers []string
	searches    []string
	options     []string
}

// parseResolvConf reads nameserver, search and options lines as the
// kubelet does: the last search line wins, search domains lose a trailing
// dot, options lines accumulate.
func parseResolvConf(data []byte) resolvConf {
	var rc resolvConf
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				rc.nameservers = append(rc.nameservers, f[1])
			}
		case "search":
			rc.searches = rc.searches[:0]
			for _, s := range f[1:] {
				if s != "." {
					s = strings.TrimSuffix(s, ".")
				}
				rc.searches = append(rc.searches, s)
			}
		case "options":
			rc.options = append(rc.options, f[1:]...)
		}
	}
	return rc
}

// ResolvConf renders the /etc/resolv.conf of pod per its dnsPolicy and
// dnsConfig, as the kubelet does. nameserver is the cluster DNS address
// (empty: ClusterFirst falls back to the host's settings, as a kubelet
// without cluster DNS does); namespace defaults to the pod's; clusterDomain
// to DefaultClusterDomain. hostResolvConf is the host's resolv.conf; nil
// means there is none, which gives localhost as the nameserver.
func ResolvConf(nameserver, namespace, clusterDomain string, pod *corev1.Pod, hostResolvConf []byte) ([]byte, error) {
	if pod == nil {
		return nil, fmt.Errorf("resolv.conf: no pod")
	}
	if namespace == "" {
		namespace = pod.Namespace
	}
	if clusterDomain == "" {
		clusterDomain = DefaultClusterDomain
	}
	clusterDomain = strings.Trim(clusterDomain, ".")

	host := parseResolvConf(hostResolvConf)
	if hostResolvConf == nil {
		host = resolvConf{nameservers: []string{"127.0.0.1"}, searches: []string{"."}}
	}
	var rc resolvConf
	switch pod.Spec.DNSPolicy {
	case corev1.DNSNone:
	case corev1.DNSClusterFirstWithHostNet:
		rc = clusterFirst(nameserver, namespace, clusterDomain, host)
	case corev1.DNSClusterFirst, "":
		if pod.Spec.HostNetwork {
			rc = host
		} else {
			rc = clusterFirst(nameserver, namespace, clusterDomain, host)
		}
	case corev1.DNSDefault:
		rc = host
	default:
		return nil, fmt.Errorf("resolv.conf: invalid DNSPolicy=%v", pod.Spec.DNSPolicy)
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		rc.nameservers = dedup(append(slices.Clone(rc.nameservers), dc.Nameservers...))
		rc.searches = dedup(append(slices.Clone(rc.searches), dc.Searches...))
		rc.options = mergeOptions(rc.options, dc.Options)
	}
	return rc.limited().render(), nil
}

// clusterFirst points at the cluster DNS with the namespace's search path
// ahead of the host's; without a cluster DNS address the host's settings
// stand.
func clusterFirst(nameserver, namespace, domain string, host resolvConf) resolvConf {
	if nameserver == "" {
		return host
	}
	search := []string{namespace + ".svc." + domain, "svc." + domain, domain}
	return resolvConf{
		nameservers: []string{nameserver},
		searches:    dedup(append(search, host.searches...)),
		options:     slices.Clone(clusterOptions),
	}
}

// mergeOptions lets the pod's options replace same-named ones; the result
// is sorted so that equal inputs render equally.
func mergeOptions(existing []string, pod []corev1.PodDNSConfigOption) []string {
	m := map[string]string{}
	for _, o := range existing {
		name, value, _ := strings.Cut(o, ":")
		m[name] = value
	}
	for _, o := range pod {
		m[o.Name] = ""
		if o.Value != nil {
			m[o.Name] = *o.Value
		}
	}
	out := make([]string, 0, len(m))
	for name, value := range m {
		if value != "" {
			name += ":" + value
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// limited trims to the resolver limits the kubelet enforces.
func (rc resolvConf) limited() resolvConf {
	if len(rc.nameservers) > maxNameservers {
		rc.nameservers = rc.nameservers[:maxNameservers]
	}
	if len(rc.searches) > maxSearchDomains {
		rc.searches = rc.searches[:maxSearchDomains]
	}
	for len(rc.searches) > 0 && len(strings.Join(rc.searches, " ")) > maxSearchListChar {
		rc.searches = rc.searches[:len(rc.searches)-1]
	}
	return rc
}

func (rc resolvConf) render() []byte {
	var b bytes.Buffer
	for _, ns := range rc.nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(rc.searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.searches, " "))
	}
	if len(rc.options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.options, " "))
	}
	return b.Bytes()
}
