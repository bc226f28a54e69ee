// Package servertest starts a real in-process batchlet server (embedded
// etcd, apiserver over HTTPS, controllers, scheduler, local agent) for
// integration tests.
package servertest

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/batchlet/batchlet/internal/runtime/process"
	"github.com/batchlet/batchlet/internal/runtime/sandbox"
	"github.com/batchlet/batchlet/internal/server"
)

// Server is a started server bound to one test.
type Server struct {
	*server.Server
	Client  kubernetes.Interface
	Config  *rest.Config
	DataDir string
}

// Option adjusts the configuration before start.
type Option func(*server.Config)

// Start runs a server in a temporary data dir on free ports, waits until
// it is ready and stops it when the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := server.Config{
		DataDir:     t.TempDir(),
		Listen:      "127.0.0.1:0",
		AgentListen: "127.0.0.1:0",
		NodeName:    "node-1",
		// Tests run servers side by side; ClusterIP proxies would clash.
		DisableServiceProxy: true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return StartWithConfig(t, cfg)
}

// StartWithConfig starts a server with an explicit configuration (for
// restarts on the same data dir).
func StartWithConfig(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("starting server: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	select {
	case <-s.Ready():
	case err := <-s.Failed():
		t.Fatalf("server failed: %v", err)
	case <-ctx.Done():
		t.Fatalf("server not ready within 60s")
	}
	rc := s.RESTConfig()
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return &Server{Server: s, Client: client, Config: rc, DataDir: cfg.DataDir}
}

// RunTests runs a test binary's tests. The local agent's process runtime
// re-executes the current binary as its supervisor; in a test
// binary that is the test binary itself, so TestMain must route those
// invocations to the shim:
//
//	func TestMain(m *testing.M) { os.Exit(servertest.RunTests(m)) }
func RunTests(m *testing.M) int {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case process.ShimSubcommand:
			return process.ShimMain(os.Args[2:])
		case sandbox.InitSubcommand:
			return sandbox.InitMain(os.Args[2:])
		}
	}
	return m.Run()
}

// FreeAddr returns a loopback address with a port free right now, for
// servers that must come back on the same address after a restart.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
