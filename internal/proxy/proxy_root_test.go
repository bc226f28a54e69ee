//go:build linux

package proxy

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

const testLabel = "lo:bl-test"

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// labelled lists the loopback addresses carrying the test label.
func labelled(t *testing.T) []string {
	t.Helper()
	return labelledOn(t, "lo", testLabel)
}

func labelledOn(t *testing.T, ifname, label string) []string {
	t.Helper()
	lo, err := netlink.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := netlink.AddrList(lo, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		if a.Label == label {
			out = append(out, a.IP.String())
		}
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serviceWithEndpoints is a Service at clusterIP:port whose one endpoint
// is epIP:epPort.
func serviceWithEndpoints(name, clusterIP string, port int, epIP string, epPort int) (*corev1.Service, *corev1.Endpoints) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: clusterIP, ClusterIPs: []string{clusterIP},
			Ports: []corev1.ServicePort{{Name: "p", Port: int32(port), Protocol: corev1.ProtocolTCP}}},
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: epIP}},
			Ports:     []corev1.EndpointPort{{Name: "p", Port: int32(epPort), Protocol: corev1.ProtocolTCP}},
		}},
	}
	return svc, ep
}

// runningProxy is a proxy started by startProxy.
type runningProxy struct {
	client *fake.Clientset
	ctx    context.Context
	stop   func() error // stops the proxy and returns what Run returned
}

// startProxy runs a proxy with cfg over a fake API holding objs; the
// proxy is stopped at the end of the test if stop was not called.
func startProxy(t *testing.T, cfg Config, objs ...runtime.Object) *runningProxy {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	p, err := New(cfg, client, factory)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	factory.Start(ctx.Done())
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
			factory.Shutdown()
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &runningProxy{client: client, ctx: ctx, stop: stop}
}

// waitDialable waits until a TCP connection to target succeeds.
func waitDialable(t *testing.T, what, target string) {
	t.Helper()
	waitUntil(t, what, func() bool {
		c, err := net.DialTimeout("tcp", target, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// TestClusterIPReachable runs the proxy against a Service with a cluster
// IP from the service range and a real TCP echo server as its endpoint.
func TestClusterIPReachable(t *testing.T) {
	requireRoot(t)
	backend := echoServer(t, "pod")
	host, portStr, _ := net.SplitHostPort(backend)
	port, _ := strconv.Atoi(portStr)
	const clusterIP = "10.43.213.7"
	svc, ep := serviceWithEndpoints("echo", clusterIP, 80, host, port)
	rp := startProxy(t, Config{Interface: "lo", Label: testLabel}, svc, ep)
	client, ctx := rp.client, rp.ctx

	target := net.JoinHostPort(clusterIP, "80")
	// Until the address is local, the host's default route may carry the
	// connection elsewhere: wait for it first.
	waitUntil(t, "the cluster IP on the loopback", func() bool {
		got := labelled(t)
		return len(got) == 1 && got[0] == clusterIP
	})
	waitDialable(t, "the cluster IP to answer", target)
	if got := roundTrip(t, target, "hello"); got != "pod:hello" {
		t.Errorf("reply through %s = %q, want pod:hello", target, got)
	}

	// Endpoints gone: the address stays, connections are refused.
	ep2 := ep.DeepCopy()
	ep2.Subsets = nil
	if _, err := client.CoreV1().Endpoints("default").Update(ctx, ep2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "connection refused without endpoints", func() bool {
		c, err := net.DialTimeout("tcp", target, time.Second)
		if err == nil {
			c.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	})

	// Service gone: the address goes too.
	if err := client.CoreV1().Services("default").Delete(ctx, "echo", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the address to be removed", func() bool { return len(labelled(t)) == 0 })

	// A new Service, then shutdown: nothing may be left behind.
	svc2 := svc.DeepCopy()
	svc2.Name = "again"
	if _, err := client.CoreV1().Services("default").Create(ctx, svc2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the address to come back", func() bool { return len(labelled(t)) == 1 })
	if err := rp.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := labelled(t); len(got) != 0 {
		t.Errorf("addresses left after shutdown: %v", got)
	}
}

// TestStaleAddressesRemoved checks that a restart clears what a crashed
// run left on the interface.
func TestStaleAddressesRemoved(t *testing.T) {
	requireRoot(t)
	h, err := newAddrs("lo", testLabel)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.add(net.ParseIP("10.43.213.9")); err != nil {
		t.Fatal(err)
	}
	rp := startProxy(t, Config{Interface: "lo", Label: testLabel})
	waitUntil(t, "stale address removal", func() bool { return len(labelled(t)) == 0 })
	_ = rp.stop()
}

// TestServiceNamespaceLeavesHostPortsFree runs the proxy in its default
// mode, cluster IPs in a network namespace of their own, and checks what
// that mode is for: a host server that starts after the Service and binds
// the wildcard address on the Service's port (as redis-server and
// rabbitmq-server do) can still listen, and is reached through the
// cluster IP.
func TestServiceNamespaceLeavesHostPortsFree(t *testing.T) {
	requireRoot(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	const clusterIP = "10.43.213.11"
	svc, ep := serviceWithEndpoints("wild", clusterIP, port, "127.0.0.1", port)
	const link = "bl-svct0"
	rp := startProxy(t, Config{Link: link, LinkNet: "169.254.44.0/30"}, svc, ep)

	target := net.JoinHostPort(clusterIP, strconv.Itoa(port))
	waitDialable(t, "the proxy to listen on the cluster IP", target)
	echoServerOn(t, net.JoinHostPort("0.0.0.0", strconv.Itoa(port)), "pod")
	if got := roundTrip(t, target, "hello"); got != "pod:hello" {
		t.Errorf("reply through %s = %q, want pod:hello", target, got)
	}
	if got := labelledOn(t, "lo", "lo:bl-svc"); len(got) != 0 {
		t.Errorf("cluster IPs on the host loopback: %v", got)
	}
	if err := rp.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := netlink.LinkByName(link); err == nil {
		t.Errorf("%s left after shutdown", link)
	}
	if c, err := net.DialTimeout("tcp", target, 200*time.Millisecond); err == nil {
		c.Close()
		t.Errorf("%s still answers after shutdown", target)
	}
}

// TestLocalEndpointsWinOverTheAPIs: a Service with local endpoints is
// forwarded to them whatever its Endpoints in the API say, even when
// those are missing; other Services follow the API.
func TestLocalEndpointsWinOverTheAPIs(t *testing.T) {
	requireRoot(t)
	local := echoServer(t, "local")
	remote := echoServer(t, "remote")
	lhost, lport := splitHostPort(t, local)
	rhost, rport := splitHostPort(t, remote)
	const clusterIP = "10.43.213.9"
	svc, apiEP := serviceWithEndpoints("dns", clusterIP, 53, rhost, rport)
	_, localEP := serviceWithEndpoints("dns", clusterIP, 53, lhost, lport)
	rp := startProxy(t, Config{Interface: "lo", Label: testLabel, LocalEndpoints: map[string]*corev1.Endpoints{"default/dns": localEP}}, svc, apiEP)
	target := net.JoinHostPort(clusterIP, "53")
	// Until the address is local, the host's routes may carry the
	// connection elsewhere: wait for it first.
	waitUntil(t, "the cluster IP on the loopback", func() bool { return slices.Contains(labelled(t), clusterIP) })
	waitDialable(t, "the cluster IP to answer", target)
	if got := roundTrip(t, target, "q"); got != "local:q" {
		t.Fatalf("reply through %s = %q, want the local endpoint's", target, got)
	}
	if err := rp.client.CoreV1().Endpoints("default").Delete(rp.ctx, "dns", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A change of another Service makes the proxy sync again meanwhile.
	other, otherEP := serviceWithEndpoints("other", "10.43.213.10", 80, rhost, rport)
	if _, err := rp.client.CoreV1().Services("default").Create(rp.ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.client.CoreV1().Endpoints("default").Create(rp.ctx, otherEP, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the other cluster IP on the loopback", func() bool { return slices.Contains(labelled(t), "10.43.213.10") })
	waitDialable(t, "the other Service to answer", "10.43.213.10:80")
	if got := roundTrip(t, "10.43.213.10:80", "x"); got != "remote:x" {
		t.Fatalf("other Service reply %q, want its API endpoint's", got)
	}
	if got := roundTrip(t, target, "q"); got != "local:q" {
		t.Fatalf("reply after the API's Endpoints went: %q, want the local endpoint's", got)
	}
}

func splitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
