package proxy

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svcWith(clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default"},
		Spec:       corev1.ServiceSpec{ClusterIP: clusterIP, ClusterIPs: []string{clusterIP}, Ports: ports},
	}
}

func TestDesired(t *testing.T) {
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{
		{
			Addresses:         []corev1.EndpointAddress{{IP: "10.0.0.2"}, {IP: "10.0.0.1"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.0.0.9"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}, {Name: "dns", Port: 5353, Protocol: corev1.ProtocolUDP}},
		},
	}}
	http := corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	dns := corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}
	admin := corev1.ServicePort{Name: "admin", Port: 81, Protocol: corev1.ProtocolTCP}
	cases := []struct {
		name    string
		svc     *corev1.Service
		ep      *corev1.Endpoints
		wantIPs []string
		want    map[portKey][]string
	}{
		{"ready endpoints per port", svcWith("10.43.0.5", http, dns, admin), ep, []string{"10.43.0.5"}, map[portKey][]string{
			{"10.43.0.5", 80, corev1.ProtocolTCP}: {"10.0.0.1:8080", "10.0.0.2:8080"},
			{"10.43.0.5", 53, corev1.ProtocolUDP}: {"10.0.0.1:5353", "10.0.0.2:5353"},
		}},
		{"no endpoints object: address held, no listener", svcWith("10.43.0.5", http), nil, []string{"10.43.0.5"}, map[portKey][]string{}},
		{"headless", svcWith(corev1.ClusterIPNone, http), ep, nil, map[portKey][]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ips, want := desired(tc.svc, tc.ep)
			if !reflect.DeepEqual(ips, tc.wantIPs) {
				t.Errorf("ips = %v, want %v", ips, tc.wantIPs)
			}
			if !reflect.DeepEqual(want, tc.want) {
				t.Errorf("listeners = %v, want %v", want, tc.want)
			}
		})
	}
}
