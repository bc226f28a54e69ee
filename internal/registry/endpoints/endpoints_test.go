package endpoints

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestFormatAndValidate(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	cases := []struct {
		ep   corev1.Endpoints
		want string
	}{
		{corev1.Endpoints{}, "<none>"},
		{corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1")}}}, "10.0.0.1"},
		{corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 6379}}}}}, "10.0.0.1:6379,10.0.0.2:6379"},
		{corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: addrs("1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5"), Ports: []corev1.EndpointPort{{Port: 80}}}}},
			"1.1.1.1:80,1.1.1.2:80,1.1.1.3:80 + 2 more..."},
	}
	for _, c := range cases {
		row, err := table{}.Row(&c.ep, time.Now())
		if err != nil || row[1] != c.want {
			t.Errorf("endpoints %v: %v (%v), want %q", c.ep.Subsets, row, err, c.want)
		}
	}
	bad := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Addresses: addrs("nope"), Ports: []corev1.EndpointPort{{Port: 80}}}}}
	strategy{}.Default(bad)
	if bad.Subsets[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("protocol not defaulted")
	}
	errs := strategy{}.Validate(context.Background(), bad)
	if len(errs) != 1 || errs[0].Error() != `subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address` {
		t.Errorf("errs = %v", errs)
	}
}
