package proxy

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/batchlet/batchlet/internal/cachesync"
	"github.com/batchlet/batchlet/internal/controller/queueworker"
)

// Proxy forwards Service cluster IPs to endpoints.
type Proxy struct {
	cfg             Config
	serviceLister   corelisters.ServiceLister
	endpointsLister corelisters.EndpointsLister
	synced          []cache.InformerSynced
	queue           workqueue.TypedRateLimitingInterface[string]

	addrs addrHolder
	// mu guards services; one worker syncs, Run's cleanup also reads it.
	mu       sync.Mutex
	services map[string]*serviceState
	stopped  bool // set by cleanup: no sync may add anything after it
}

// serviceState is what the proxy holds for one Service.
type serviceState struct {
	ips   []string
	ports map[portKey]forwarder
}

// portKey identifies one listener: a cluster IP, port and protocol.
type portKey struct {
	ip    string
	port  int32
	proto corev1.Protocol
}

func (k portKey) addr() string { return net.JoinHostPort(k.ip, strconv.Itoa(int(k.port))) }

// forwarder is a running TCP or UDP forwarder.
type forwarder struct {
	be    *backends
	close func()
}

// New wires the proxy to the shared informers; call it before the factory
// is started.
func New(cfg Config, client kubernetes.Interface, factory informers.SharedInformerFactory) (*Proxy, error) {
	if factory == nil {
		return nil, fmt.Errorf("service proxy: informer factory is required")
	}
	_ = client // reads go through the informers only
	p := &Proxy{
		cfg:      cfg.withDefaults(),
		services: map[string]*serviceState{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "service-proxy"}),
	}
	svcInf := factory.Core().V1().Services()
	epInf := factory.Core().V1().Endpoints()
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    p.enqueue,
		UpdateFunc: func(_, cur any) { p.enqueue(cur) },
		DeleteFunc: p.enqueue,
	}
	if _, err := svcInf.Informer().AddEventHandler(handler); err != nil {
		return nil, fmt.Errorf("service proxy: service handler: %w", err)
	}
	if _, err := epInf.Informer().AddEventHandler(handler); err != nil {
		return nil, fmt.Errorf("service proxy: endpoints handler: %w", err)
	}
	p.serviceLister = svcInf.Lister()
	p.endpointsLister = epInf.Lister()
	p.synced = []cache.InformerSynced{svcInf.Informer().HasSynced, epInf.Informer().HasSynced}
	return p, nil
}

func (p *Proxy) enqueue(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		p.queue.Add(key)
	}
}

// Run proxies until ctx is done, then removes every address and listener
// it made. Without root on Linux it reports on stderr that Services are
// not reachable and waits for ctx.
func (p *Proxy) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	defer p.queue.ShutDown()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "service proxy: disabled (needs root on Linux); Service cluster IPs are not reachable from pods")
		<-ctx.Done()
		return nil
	}
	addrs, err := p.holder()
	if err != nil {
		fmt.Fprintf(os.Stderr, "service proxy: disabled: %v\n", err)
		<-ctx.Done()
		return nil
	}
	p.addrs = addrs
	p.removeStale(ctx)
	defer p.cleanup()
	if !cachesync.Wait(ctx, p.synced...) {
		return nil
	}
	queueworker.Start(ctx, p.queue, 1, func(_ context.Context, key string) error { return p.sync(key) }, p.syncFailed)
	<-ctx.Done()
	return nil
}

// holder makes the place where cluster IPs live: a network namespace of
// their own unless an interface is configured or the namespace cannot be
// made.
func (p *Proxy) holder() (addrHolder, error) {
	if p.cfg.Interface != "" {
		return newAddrs(p.cfg.Interface, p.cfg.Label)
	}
	h, err := newServiceNetns(p.cfg.Link, p.cfg.LinkNet)
	if err == nil {
		return h, nil
	}
	fmt.Fprintf(os.Stderr, "service proxy: %v; holding cluster IPs on the loopback instead (host servers cannot bind a wildcard address on a Service's port)\n", err)
	return newAddrs("lo", "lo:bl-svc")
}

// removeStale drops addresses an earlier run left on the interface.
func (p *Proxy) removeStale(ctx context.Context) {
	stale, err := p.addrs.list()
	if err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "listing stale service addresses")
		return
	}
	for _, ip := range stale {
		if err := p.addrs.remove(ip); err != nil {
			utilruntime.HandleErrorWithContext(ctx, err, "removing stale service address")
		}
	}
}

func (p *Proxy) syncFailed(ctx context.Context, key string, err error) bool {
	utilruntime.HandleErrorWithContext(ctx, err, "syncing service proxy", "service", key)
	return true
}

// cleanup closes every forwarder and removes every address.
func (p *Proxy) cleanup() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for key := range p.services {
		p.teardownLocked(key)
	}
	if err := p.addrs.close(); err != nil {
		klog.ErrorS(err, "Removing the service proxy interface")
	}
}

// sync makes the listeners and addresses of one Service match its spec
// and ready endpoints.
func (p *Proxy) sync(key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("splitting key %q: %w", key, err)
	}
	svc, err := p.serviceLister.Services(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting service %s from cache: %w", key, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	if svc == nil {
		p.teardownLocked(key)
		return nil
	}
	ep, err := p.endpointsLister.Endpoints(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting endpoints %s from cache: %w", key, err)
	}
	if apierrors.IsNotFound(err) {
		ep = nil
	}
	if local, ok := p.cfg.LocalEndpoints[key]; ok {
		ep = local
	}
	ips, want := desired(svc, ep)
	return p.applyLocked(key, ips, want)
}

// applyLocked reconciles one Service's addresses and forwarders.
func (p *Proxy) applyLocked(key string, ips []string, want map[portKey][]string) error {
	st := p.services[key]
	if st == nil {
		st = &serviceState{ports: map[portKey]forwarder{}}
		p.services[key] = st
	}
	var errs []error
	for _, ip := range ips {
		if err := p.addrs.add(net.ParseIP(ip)); err != nil {
			errs = append(errs, err)
		}
	}
	for k, fw := range st.ports {
		if _, ok := want[k]; !ok {
			fw.close()
			delete(st.ports, k)
		}
	}
	for k, eps := range want {
		if fw, ok := st.ports[k]; ok {
			fw.be.set(eps)
			continue
		}
		fw, err := p.start(k, eps)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st.ports[k] = fw
	}
	for _, ip := range st.ips {
		if !contains(ips, ip) {
			if err := p.addrs.remove(net.ParseIP(ip)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	st.ips = ips
	if len(errs) > 0 {
		return fmt.Errorf("service %s: %v", key, errs)
	}
	return nil
}

func (p *Proxy) teardownLocked(key string) {
	st := p.services[key]
	if st == nil {
		return
	}
	for _, fw := range st.ports {
		fw.close()
	}
	for _, ip := range st.ips {
		if err := p.addrs.remove(net.ParseIP(ip)); err != nil {
			klog.ErrorS(err, "Removing service address", "service", key)
		}
	}
	delete(p.services, key)
}

// start listens on one Service port.
func (p *Proxy) start(k portKey, eps []string) (forwarder, error) {
	be := newBackends(eps)
	switch k.proto {
	case corev1.ProtocolUDP:
		l, err := p.addrs.listen("udp", k.addr())
		if err != nil {
			return forwarder{}, fmt.Errorf("listening on udp %s: %w", k.addr(), err)
		}
		f := newUDPForwarder(l.(*net.UDPConn), be, p.cfg.UDPIdleTimeout)
		return forwarder{be: be, close: f.close}, nil
	default:
		l, err := p.addrs.listen("tcp", k.addr())
		if err != nil {
			return forwarder{}, fmt.Errorf("listening on tcp %s: %w", k.addr(), err)
		}
		f := newTCPForwarder(l.(net.Listener), be, p.cfg.DialTimeout)
		return forwarder{be: be, close: func() { f.close(false) }}, nil
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
