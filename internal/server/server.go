package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/batchlet/batchlet/internal/apiserver"
	"github.com/batchlet/batchlet/internal/apiserver/authn"
	"github.com/batchlet/batchlet/internal/apiserver/nodeproxy"
	"github.com/batchlet/batchlet/internal/inproc"
	"github.com/batchlet/batchlet/internal/pki"
	"github.com/batchlet/batchlet/internal/registry/event"
	"github.com/batchlet/batchlet/internal/storage"
	"github.com/batchlet/batchlet/internal/storage/embedded"
	"github.com/batchlet/batchlet/internal/storage/etcd3"
	"github.com/batchlet/batchlet/internal/version"
)

// Server is a running batchlet server.
type Server struct {
	cfg        Config
	etcd       *embedded.Etcd
	httpServer *http.Server
	listener   net.Listener
	url        string
	// restConfig is what the server's components use: the in-process
	// transport to handler; adminConfig reaches the listener over TLS.
	restConfig  *rest.Config
	adminConfig *rest.Config
	inproc      *inproc.Transport
	kubeconfig  string
	clusterDNS  net.IP

	ready     chan struct{}
	readyOnce sync.Once
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	failed    chan error
}

// Start brings up storage and the apiserver, then the controllers, the
// scheduler and the local agent, and returns at once; Ready is closed when
// the server can serve requests and run pods.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	s := &Server{cfg: cfg, ready: make(chan struct{}), failed: make(chan error, 4)}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.start(ctx, runCtx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx, runCtx context.Context) error {
	tlsDir := filepath.Join(s.cfg.DataDir, "tls")
	ca, err := pki.LoadOrCreateCA(tlsDir, "batchlet-ca")
	if err != nil {
		return err
	}
	certs, err := issueServerCerts(ca, tlsDir, s.cfg.Listen)
	if err != nil {
		return err
	}

	store, err := s.openStorage(ctx)
	if err != nil {
		return err
	}

	listener, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Listen, err)
	}
	s.listener = listener
	s.url = "https://" + listener.Addr().String()

	joinToken, err := loadOrCreateJoinToken(s.cfg.DataDir, ca.CertPEM)
	if err != nil {
		return err
	}
	if s.clusterDNS, err = clusterDNSIP(s.cfg.ServiceCIDR); err != nil {
		return err
	}
	kinds, err := resources(store, s.cfg.ServiceCIDR)
	if err != nil {
		return err
	}
	loopback := authn.NewInProcess(loopbackUser)
	api, err := apiserver.New(apiserver.Config{
		Storage:       store,
		Resources:     kinds,
		Authenticator: authenticator(joinToken, loopback),
		NodeTransport: nodeproxy.NewTransport(certs.kubeletClient.TLS, nil),
		Version:       version.Get(),
		Ready:         s.readyErr,
		Clock:         s.cfg.Clock,
	})
	if err != nil {
		return fmt.Errorf("building apiserver: %w", err)
	}
	handler := withCACerts(api, ca.CertPEM)
	s.httpServer = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          nil,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{certs.serving.TLS},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    ca.Pool(),
			NextProtos:   []string{"h2", "http/1.1"},
			MinVersion:   tls.VersionTLS12,
		},
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpServer.ServeTLS(listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.failed <- fmt.Errorf("apiserver: %w", err)
		}
	}()

	// The components call the same handler the listener serves, without
	// TCP, TLS or HTTP/2; the apiserver knows them by loopback's mark.
	s.inproc = inproc.New(handler, loopback.Mark)
	s.restConfig = componentConfig(s.url, s.inproc)
	s.adminConfig = tlsLoopbackConfig(s.url, ca, certs.loopback)
	s.kubeconfig = KubeconfigPath(s.cfg.DataDir)
	if err := writeKubeconfig(s.kubeconfig, s.url, ca.CertPEM, certs.admin); err != nil {
		return err
	}

	client, err := kubernetes.NewForConfig(s.restConfig)
	if err != nil {
		return fmt.Errorf("loopback client: %w", err)
	}
	if err := bootstrap(ctx, client); err != nil {
		return err
	}
	agentReady, err := s.startComponents(runCtx, client, ca, certs)
	if err != nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-agentReady:
			s.readyOnce.Do(func() { close(s.ready) })
			// Start-up leaves a heap several times what the idle server
			// keeps alive (OpenAPI documents are built, caches are
			// listed); hand the garbage back now instead of holding it
			// until the scavenger gets to it.
			debug.FreeOSMemory()
		case <-runCtx.Done():
		}
	}()
	return nil
}

func (s *Server) openStorage(ctx context.Context) (storage.Interface, error) {
	if len(s.cfg.EtcdEndpoints) > 0 {
		client, err := embedded.NewClient(s.cfg.EtcdEndpoints, nil)
		if err != nil {
			return nil, fmt.Errorf("connecting to etcd %v: %w", s.cfg.EtcdEndpoints, err)
		}
		return etcd3.New(client, s.storageOptions()...), nil
	}
	e, err := embedded.Start(ctx, embedded.Config{DataDir: filepath.Join(s.cfg.DataDir, "etcd")})
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd: %w", err)
	}
	s.etcd = e
	return etcd3.New(e.Client(), s.storageOptions()...), nil
}

// storageOptions makes events expire, as upstream's --event-ttl does.
func (s *Server) storageOptions() []etcd3.Option {
	return []etcd3.Option{etcd3.WithTTL(apiserver.StoragePrefix(event.Resource(), ""), s.cfg.EventTTL)}
}

func (s *Server) readyErr() error {
	select {
	case <-s.ready:
		return nil
	default:
		return errors.New("not ready: the local node is not registered yet")
	}
}

// EmbeddedEtcdDB is the database file of the embedded etcd, which it maps
// into memory; empty with an external etcd.
func (s *Server) EmbeddedEtcdDB() string {
	if s.etcd == nil {
		return ""
	}
	return s.etcd.BackendPath()
}

// Ready is closed once the server serves the API and can run pods.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Failed reports a fatal error of a running component.
func (s *Server) Failed() <-chan error { return s.failed }

// URL is the apiserver's https URL.
func (s *Server) URL() string { return s.url }

// KubeconfigPath is the admin kubeconfig written at start.
func (s *Server) KubeconfigPath() string { return s.kubeconfig }

// RESTConfig is an admin client configuration that reaches the
// apiserver through its listener over TLS, as a network client does.
func (s *Server) RESTConfig() *rest.Config { return rest.CopyConfig(s.adminConfig) }

// ComponentConfig is the admin configuration the server's own components
// use: requests are served by the apiserver's handler in this process.
func (s *Server) ComponentConfig() *rest.Config { return rest.CopyConfig(s.restConfig) }

// InProcessRequests is how many requests the in-process transport has
// served.
func (s *Server) InProcessRequests() uint64 { return s.inproc.Requests() }

// Close stops every component and releases storage. Pods started by the
// local agent keep running; a new server on the same data dir adopts them.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		if s.httpServer != nil {
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.httpServer.Shutdown(shutdownCtx); err != nil {
				s.httpServer.Close()
			}
			cancel()
		} else if s.listener != nil {
			s.listener.Close()
		}
		s.wg.Wait()
		if s.etcd != nil {
			if err := s.etcd.Close(); err != nil {
				s.closeErr = fmt.Errorf("closing etcd: %w", err)
			}
		}
		klog.V(2).Info("server stopped")
	})
	return s.closeErr
}
