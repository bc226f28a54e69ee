package dns

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

func clusterIPService(name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{ClusterIP: ip, ClusterIPs: []string{ip}, Ports: ports},
	}
}

func headlessEndpoints(name string, ports []corev1.EndpointPort, addrs ...corev1.EndpointAddress) *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses:         addrs,
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.0.0.99", Hostname: "slow"}},
			Ports:             ports,
		}},
	}
}

// fixtures is a small cluster: a ClusterIP Service with named ports, the
// pod-to-pod tutorial's headless Service with two ready and one unready
// pod, and an ExternalName Service.
func fixtures() []runtime.Object {
	redis := clusterIPService("redis", "10.43.0.20",
		corev1.ServicePort{Name: "redis", Port: 6379, Protocol: corev1.ProtocolTCP},
		corev1.ServicePort{Name: "stats", Port: 9121, Protocol: corev1.ProtocolUDP})
	hs := clusterIPService("headless-svc", corev1.ClusterIPNone)
	hs.Spec.ClusterIPs = []string{corev1.ClusterIPNone}
	hsEp := headlessEndpoints("headless-svc",
		[]corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
		corev1.EndpointAddress{IP: "10.0.0.1", Hostname: "example-job-0"},
		corev1.EndpointAddress{IP: "10.0.0.2", Hostname: "example-job-1"},
		corev1.EndpointAddress{IP: "10.0.0.3"})
	ext := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "default"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
	}
	return []runtime.Object{redis, hs, hsEp, ext}
}

// fakeUpstream serves example.com A 192.0.2.7 and NXDOMAIN otherwise.
func fakeUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if strings.EqualFold(r.Question[0].Name, "example.com.") && r.Question[0].Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("192.0.2.7")})
		} else {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

type env struct {
	srv    *Server
	client *fake.Clientset
}

func startServer(t *testing.T, upstream []string, objs ...runtime.Object) *env {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	srv, err := New(Config{ListenAddress: "127.0.0.1:0", Upstream: upstream}, client, factory)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	return &env{srv: srv, client: client}
}

func query(t *testing.T, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	// The server answers once its caches have synced; retry until then.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _, err := c.Exchange(m, addr)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s query %s: %v", network, name, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// summary renders answers as "TYPE data" strings, sorted.
func summary(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		s := rr.String()
		f := strings.Fields(s)
		out = append(out, strings.Join(f[3:], " "))
	}
	slices.Sort(out)
	return out
}

func TestRecords(t *testing.T) {
	up := fakeUpstream(t)
	e := startServer(t, []string{up}, fixtures()...)
	cases := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"redis.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"A 10.43.0.20"}},
		{"REDIS.Default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"A 10.43.0.20"}},
		{"redis.default.svc.cluster.local.", dns.TypeAAAA, dns.RcodeSuccess, nil},
		{"_redis._tcp.redis.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"SRV 0 100 6379 redis.default.svc.cluster.local."}},
		{"_stats._udp.redis.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"SRV 0 100 9121 redis.default.svc.cluster.local."}},
		{"headless-svc.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.3"}},
		{"example-job-0.headless-svc.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"A 10.0.0.1"}},
		{"example-job-1.headless-svc.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"A 10.0.0.2"}},
		{"10-0-0-3.headless-svc.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"A 10.0.0.3"}},
		{"_http._tcp.headless-svc.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess, []string{
			"SRV 0 33 8080 10-0-0-3.headless-svc.default.svc.cluster.local.",
			"SRV 0 33 8080 example-job-0.headless-svc.default.svc.cluster.local.",
			"SRV 0 33 8080 example-job-1.headless-svc.default.svc.cluster.local.",
		}},
		// Not ready: no name.
		{"slow.headless-svc.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"10-1-2-3.default.pod.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"A 10.1.2.3"}},
		{"ext.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"A 192.0.2.7", "CNAME example.com."}},
		{"missing.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"redis.other.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		// An empty non-terminal exists.
		{"default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, nil},
		{"example.com.", dns.TypeA, dns.RcodeSuccess, []string{"A 192.0.2.7"}},
		{"nowhere.example.", dns.TypeA, dns.RcodeNameError, nil},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range cases {
			t.Run(network+"/"+tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
				resp := query(t, e.srv.Addr(), network, tc.name, tc.qtype)
				if resp.Rcode != tc.rcode {
					t.Fatalf("rcode = %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
				}
				if got := summary(resp.Answer); !slices.Equal(got, tc.want) {
					t.Errorf("answer = %q, want %q", got, tc.want)
				}
				inCluster := strings.HasSuffix(strings.ToLower(tc.name), "cluster.local.")
				if inCluster && len(tc.want) == 0 {
					if len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA {
						t.Errorf("authority = %v, want the cluster SOA", resp.Ns)
					}
				}
			})
		}
	}
}

func TestSRVAdditionalAddresses(t *testing.T) {
	e := startServer(t, []string{}, fixtures()...)
	resp := query(t, e.srv.Addr(), "udp", "_http._tcp.headless-svc.default.svc.cluster.local.", dns.TypeSRV)
	got := summary(resp.Extra)
	want := []string{"A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.3"}
	if !slices.Equal(got, want) {
		t.Errorf("additional = %q, want %q", got, want)
	}
}

func TestNoUpstreamRefuses(t *testing.T) {
	e := startServer(t, []string{}, fixtures()...)
	resp := query(t, e.srv.Addr(), "udp", "example.com.", dns.TypeA)
	if resp.Rcode != dns.RcodeRefused {
		t.Errorf("rcode = %s, want REFUSED", dns.RcodeToString[resp.Rcode])
	}
}

// TestFollowsChanges checks that answers track Endpoints and Service
// changes delivered by the informers.
func TestFollowsChanges(t *testing.T) {
	e := startServer(t, []string{}, fixtures()...)
	ctx := context.Background()
	name := "example-job-2.headless-svc.default.svc.cluster.local."
	if resp := query(t, e.srv.Addr(), "udp", name, dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("rcode before the pod is ready = %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
	ep, err := e.client.CoreV1().Endpoints("default").Get(ctx, "headless-svc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep.Subsets[0].Addresses = append(ep.Subsets[0].Addresses, corev1.EndpointAddress{IP: "10.0.0.4", Hostname: "example-job-2"})
	if _, err := e.client.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		resp := query(t, e.srv.Addr(), "udp", name, dns.TypeA)
		return slices.Equal(summary(resp.Answer), []string{"A 10.0.0.4"})
	})
	if err := e.client.CoreV1().Services("default").Delete(ctx, "redis", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return query(t, e.srv.Addr(), "udp", "redis.default.svc.cluster.local.", dns.TypeA).Rcode == dns.RcodeNameError
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSameDomainDifferentCase(t *testing.T) {
	x := newIndex("Cluster.Local.")
	if x.domain != "cluster.local." {
		t.Errorf("domain = %q", x.domain)
	}
	if _, ok := x.podIP("300-0-0-1.default.pod.cluster.local."); ok {
		t.Error("out-of-range pod address accepted")
	}
}

// TestAnswersCachedForTheirTTL: a pod record that vanishes (the pod
// finished) keeps answering for the TTL of the answer already given, then
// goes, as with the cache in front of a cluster's DNS.
func TestAnswersCachedForTheirTTL(t *testing.T) {
	client := fake.NewClientset(fixtures()...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(time.Now())
	srv, err := New(Config{ListenAddress: "127.0.0.1:0", Upstream: []string{}, Clock: clk}, client, factory)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	factory.Start(ctx.Done())
	defer func() { cancel(); <-done; factory.Shutdown() }()

	name := "example-job-1.headless-svc.default.svc.cluster.local."
	waitFor(t, func() bool {
		return slices.Equal(summary(query(t, srv.Addr(), "udp", name, dns.TypeA).Answer), []string{"A 10.0.0.2"})
	})
	// The fake's watch does not replay what changed between its list and
	// the watch: change the Endpoints only once the watch is open.
	waitFor(t, func() bool {
		for _, a := range client.Actions() {
			if a.GetVerb() == "watch" && a.GetResource().Resource == "endpoints" {
				return true
			}
		}
		return false
	})
	ep, err := client.CoreV1().Endpoints("default").Get(ctx, "headless-svc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep.Subsets[0].Addresses = ep.Subsets[0].Addresses[:1]
	if _, err := client.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The index follows; asked through the server, another name of the
	// Service would be cached as first answered, so ask the index itself.
	waitFor(t, func() bool {
		r, _ := srv.index.lookup("headless-svc.default.svc.cluster.local.")
		return r != nil && len(r.a) == 1
	})
	clk.Step(4 * time.Second)
	if got := summary(query(t, srv.Addr(), "udp", name, dns.TypeA).Answer); !slices.Equal(got, []string{"A 10.0.0.2"}) {
		t.Fatalf("answer within the TTL = %v, want the cached A 10.0.0.2", got)
	}
	clk.Step(2 * time.Second)
	if resp := query(t, srv.Addr(), "udp", name, dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("after the TTL: rcode %s, answer %v; want NXDOMAIN", dns.RcodeToString[resp.Rcode], summary(resp.Answer))
	}
}

// TestListenTakenTCPPort: a port named explicitly is not swapped for
// another when TCP has it taken; the error names TCP and the UDP socket
// is let go.
func TestListenTakenTCPPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	var s Server
	err = s.listen(addr)
	if err == nil || !strings.Contains(err.Error(), "listening on tcp") {
		t.Fatalf("listen(%s) = %v, want the TCP port in use", addr, err)
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("the UDP port was not let go: %v", err)
	}
	pc.Close()
	if err := s.listen("127.0.0.1:0"); err != nil {
		t.Fatalf("listen on an ephemeral port: %v", err)
	}
	s.udp.Close()
	s.tcp.Close()
}
