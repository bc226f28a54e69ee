package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/batchlet/batchlet/internal/cachesync"
)

// Server is the cluster DNS server.
type Server struct {
	cfg    Config
	index  *index
	cache  *answerCache
	synced []cache.InformerSynced

	udp net.PacketConn
	tcp net.Listener

	closeOnce sync.Once
}

// New binds the UDP and TCP sockets and registers informer handlers; call
// it before the factory is started. Queries are served once Run starts and
// the caches have synced.
func New(cfg Config, client kubernetes.Interface, factory informers.SharedInformerFactory) (*Server, error) {
	if factory == nil {
		return nil, fmt.Errorf("dns: informer factory is required")
	}
	_ = client // reads go through the informers only
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, index: newIndex(cfg.ClusterDomain), cache: newAnswerCache(cfg.Clock, ttl*time.Second)}

	svcInf := factory.Core().V1().Services().Informer()
	epInf := factory.Core().V1().Endpoints().Informer()
	if _, err := svcInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onService,
		UpdateFunc: func(_, cur any) { s.onService(cur) },
		DeleteFunc: s.onServiceDelete,
	}); err != nil {
		return nil, fmt.Errorf("dns: service handler: %w", err)
	}
	if _, err := epInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.onEndpoints,
		UpdateFunc: func(_, cur any) { s.onEndpoints(cur) },
		DeleteFunc: s.onEndpointsDelete,
	}); err != nil {
		return nil, fmt.Errorf("dns: endpoints handler: %w", err)
	}
	s.synced = []cache.InformerSynced{svcInf.HasSynced, epInf.HasSynced}

	if err := s.listen(cfg.ListenAddress); err != nil {
		return nil, err
	}
	s.dropSelfFromUpstream()
	return s, nil
}

// listen binds UDP first, then TCP on the same port. With port 0 the
// kernel picks a free UDP port, which TCP may have taken: another one is
// tried then.
func (s *Server) listen(addr string) error {
	if addr == "" {
		return fmt.Errorf("dns: listen address is required")
	}
	host, wanted, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dns: listen address %q: %w", addr, err)
	}
	for attempt := 1; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("dns: listening on udp %s: %w", addr, err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
		if err == nil {
			s.udp, s.tcp = pc, l
			return nil
		}
		pc.Close()
		if wanted != "0" || !errors.Is(err, syscall.EADDRINUSE) || attempt == portAttempts {
			return fmt.Errorf("dns: listening on tcp %s port %d: %w", host, port, err)
		}
	}
}

// portAttempts bounds the ports tried for an ephemeral listen address.
const portAttempts = 10

// dropSelfFromUpstream keeps the server from forwarding to itself.
func (s *Server) dropSelfFromUpstream() {
	self := s.Addr()
	ups := s.cfg.Upstream[:0]
	for _, u := range s.cfg.Upstream {
		if u != self {
			ups = append(ups, u)
		}
	}
	s.cfg.Upstream = ups
}

// Addr is the address served (UDP and TCP share it).
func (s *Server) Addr() string {
	return s.udp.LocalAddr().String()
}

// Run serves until ctx is done, then closes the sockets.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	if !cachesync.Wait(ctx, s.synced...) {
		return nil
	}
	udp := &dns.Server{PacketConn: s.udp, Handler: s.handler("udp")}
	tcp := &dns.Server{Listener: s.tcp, Handler: s.handler("tcp"), ReadTimeout: 5 * time.Second}
	errs := make(chan error, 2)
	go func() { errs <- udp.ActivateAndServe() }()
	go func() { errs <- tcp.ActivateAndServe() }()
	select {
	case <-ctx.Done():
	case err := <-errs:
		if err != nil {
			return fmt.Errorf("dns: serving on %s: %w", s.Addr(), err)
		}
	}
	shut, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = udp.ShutdownContext(shut)
	_ = tcp.ShutdownContext(shut)
	return nil
}

func (s *Server) close() {
	s.closeOnce.Do(func() {
		s.udp.Close()
		s.tcp.Close()
	})
}

func (s *Server) handler(network string) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		resp := s.respond(context.Background(), req)
		if network == "udp" {
			resp.Truncate(udpSize(req))
		}
		if err := w.WriteMsg(resp); err != nil {
			klog.V(4).InfoS("Writing DNS reply failed", "err", err)
		}
	})
}

func udpSize(req *dns.Msg) int {
	if opt := req.IsEdns0(); opt != nil {
		return int(opt.UDPSize())
	}
	return dns.MinMsgSize
}

// respond computes the reply to one query.
func (s *Server) respond(ctx context.Context, req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		return m.SetRcode(req, dns.RcodeNotImplemented)
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if s.inCluster(name) {
		m.SetReply(req)
		m.Authoritative = true
		m.RecursionAvailable = true
		if cached, ok := s.cache.get(q); ok {
			m.Answer = cached
			return m
		}
		defer func() { s.cache.put(q, m.Answer) }()
		if target := s.answerCluster(m, q); target != "" {
			if s.inCluster(target) {
				// Targets inside the domain resolve locally.
				sub := new(dns.Msg)
				s.answerCluster(sub, dns.Question{Name: target, Qtype: q.Qtype, Qclass: q.Qclass})
				m.Answer = append(m.Answer, sub.Answer...)
			} else {
				s.chaseCNAME(ctx, m, target, q.Qtype)
			}
		}
		return m
	}
	if len(s.cfg.Upstream) == 0 {
		return m.SetRcode(req, dns.RcodeRefused)
	}
	if resp := s.forward(ctx, req); resp != nil {
		resp.Id = req.Id
		return resp
	}
	return m.SetRcode(req, dns.RcodeServerFailure)
}

func (s *Server) onService(obj any) {
	if svc, ok := obj.(*corev1.Service); ok {
		s.index.setService(svc)
	}
}

func (s *Server) onServiceDelete(obj any) {
	if ns, name, ok := deletedKey(obj); ok {
		s.index.deleteService(ns, name)
	}
}

func (s *Server) onEndpoints(obj any) {
	if ep, ok := obj.(*corev1.Endpoints); ok {
		s.index.setEndpoints(ep)
	}
}

func (s *Server) onEndpointsDelete(obj any) {
	if ns, name, ok := deletedKey(obj); ok {
		s.index.deleteEndpoints(ns, name)
	}
}

func deletedKey(obj any) (string, string, bool) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return "", "", false
	}
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	return ns, name, err == nil
}
