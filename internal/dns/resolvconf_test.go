package dns

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const hostConf = `# generated
nameserver 10.255.255.53
nameserver 10.255.255.54
search corp.example. lab.example
options timeout:2 attempts:3
`

func TestResolvConf(t *testing.T) {
	two := "2"
	cases := []struct {
		name   string
		policy corev1.DNSPolicy
		hostNw bool
		config *corev1.PodDNSConfig
		host   []byte
		want   string
	}{
		{name: "cluster first", policy: corev1.DNSClusterFirst, host: []byte(hostConf), want: "" +
			"nameserver 10.43.0.10\n" +
			"search jobs.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n" +
			"options ndots:5\n"},
		{name: "empty policy is cluster first", host: []byte("nameserver 1.1.1.1\n"), want: "" +
			"nameserver 10.43.0.10\n" +
			"search jobs.svc.cluster.local svc.cluster.local cluster.local\n" +
			"options ndots:5\n"},
		{name: "cluster first on the host network uses the host's", policy: corev1.DNSClusterFirst, hostNw: true, host: []byte(hostConf), want: "" +
			"nameserver 10.255.255.53\nnameserver 10.255.255.54\n" +
			"search corp.example lab.example\n" +
			"options timeout:2 attempts:3\n"},
		{name: "cluster first with host net", policy: corev1.DNSClusterFirstWithHostNet, hostNw: true, host: []byte(hostConf), want: "" +
			"nameserver 10.43.0.10\n" +
			"search jobs.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n" +
			"options ndots:5\n"},
		{name: "default", policy: corev1.DNSDefault, host: []byte(hostConf), want: "" +
			"nameserver 10.255.255.53\nnameserver 10.255.255.54\n" +
			"search corp.example lab.example\n" +
			"options timeout:2 attempts:3\n"},
		{name: "default without a host file", policy: corev1.DNSDefault, want: "nameserver 127.0.0.1\nsearch .\n"},
		{name: "none with dns config", policy: corev1.DNSNone, host: []byte(hostConf),
			config: &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.1"}, Searches: []string{"a.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "edns0"}}},
			want:   "nameserver 192.0.2.1\nsearch a.example\noptions edns0 ndots:2\n"},
		{name: "cluster first merges dns config", policy: corev1.DNSClusterFirst, host: []byte("search svc.cluster.local\n"),
			config: &corev1.PodDNSConfig{Nameservers: []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, Searches: []string{"cluster.local", "x.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}}},
			want: "" +
				"nameserver 10.43.0.10\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n" +
				"search jobs.svc.cluster.local svc.cluster.local cluster.local x.example\n" +
				"options ndots:2\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "jobs"},
				Spec:       corev1.PodSpec{DNSPolicy: tc.policy, HostNetwork: tc.hostNw, DNSConfig: tc.config},
			}
			got, err := ResolvConf("10.43.0.10", "", "", pod, tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestResolvConfWithoutClusterDNSFallsBackToHost(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "jobs"}, Spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}}
	got, err := ResolvConf("", "", "", pod, []byte("nameserver 1.1.1.1\n"))
	if err != nil || string(got) != "nameserver 1.1.1.1\n" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestResolvConfErrors(t *testing.T) {
	if _, err := ResolvConf("10.43.0.10", "", "", nil, nil); err == nil {
		t.Error("nil pod accepted")
	}
	pod := &corev1.Pod{Spec: corev1.PodSpec{DNSPolicy: "Bogus"}}
	if _, err := ResolvConf("10.43.0.10", "", "", pod, nil); err == nil {
		t.Error("unknown dnsPolicy accepted")
	}
}

func TestResolvConfSearchLimits(t *testing.T) {
	var host []byte
	host = append(host, "search"...)
	for i := 0; i < 40; i++ {
		host = append(host, " d"...)
		host = append(host, byte('a'+i%26), byte('a'+i/26))
		host = append(host, ".example"...)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "jobs"}}
	got, err := ResolvConf("10.43.0.10", "", "", pod, host)
	if err != nil {
		t.Fatal(err)
	}
	rc := parseResolvConf(got)
	if len(rc.searches) != maxSearchDomains {
		t.Errorf("search domains = %d, want %d", len(rc.searches), maxSearchDomains)
	}
}
