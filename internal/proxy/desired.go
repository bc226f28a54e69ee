package proxy

import (
	"net"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// desired returns the cluster IPs a Service needs held and, per listener,
// the ready endpoints ("ip:port") to forward to. Headless and ExternalName
// Services need nothing; a port without ready endpoints gets no listener,
// so connecting to it is refused.
func desired(svc *corev1.Service, ep *corev1.Endpoints) ([]string, map[portKey][]string) {
	want := map[portKey][]string{}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, want
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var held []string
	for _, ip := range ips {
		if ip == corev1.ClusterIPNone || net.ParseIP(ip) == nil {
			continue
		}
		held = append(held, ip)
	}
	for _, sp := range svc.Spec.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP {
			continue
		}
		eps := readyEndpoints(ep, sp.Name, proto)
		if len(eps) == 0 {
			continue
		}
		for _, ip := range held {
			want[portKey{ip: ip, port: sp.Port, proto: proto}] = eps
		}
	}
	return held, want
}

// readyEndpoints lists the ready addresses offering the named port.
func readyEndpoints(ep *corev1.Endpoints, portName string, proto corev1.Protocol) []string {
	if ep == nil {
		return nil
	}
	var out []string
	for _, ss := range ep.Subsets {
		for _, p := range ss.Ports {
			pp := p.Protocol
			if pp == "" {
				pp = corev1.ProtocolTCP
			}
			if p.Name != portName || pp != proto {
				continue
			}
			for _, a := range ss.Addresses {
				out = append(out, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
