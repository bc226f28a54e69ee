// Package embedded runs a single-member etcd server inside the process,
// shaped like etcd's embed package: a Config, Start, Client and Close.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
)

// Config selects where and how the embedded etcd runs. The zero value plus
// a DataDir is a working configuration.
type Config struct {
	// DataDir holds etcd's WAL and database; it survives Close and Start.
	DataDir string
	// ListenClientURL is the client listen address (default
	// http://127.0.0.1:0, a free port chosen when the server starts).
	ListenClientURL string
	// CompactionRetention is how much history etcd keeps for watches and
	// paginated lists (default 5 minutes, as kube-apiserver keeps).
	CompactionRetention time.Duration
	// StartTimeout bounds the wait for the server to become ready
	// (default 60 seconds).
	StartTimeout time.Duration
}

const (
	defaultClientURL    = "http://127.0.0.1:0"
	defaultRetention    = 5 * time.Minute
	defaultStartTimeout = time.Minute
	// catchUpEntries is the raft log a member keeps for followers; a
	// single member needs none, but etcd refuses 0 and takes it as unset.
	catchUpEntries = 1
	// memberName and peerURL identify the single member. The peer URL is
	// only recorded in the membership, never dialled, so a fixed value
	// keeps it stable across restarts while the listener takes any port.
	memberName     = "batchlet"
	peerURL        = "http://127.0.0.1:2380"
	listenPeerURL  = "http://127.0.0.1:0"
	clientLogLevel = zap.ErrorLevel
)

// Etcd is a running embedded etcd server with a client connected to it.
type Etcd struct {
	server    *embed.Etcd
	client    *clientv3.Client
	gate      *gate
	endpoints []string
	logLevel  zap.AtomicLevel
	closeOnce sync.Once
	closeErr  error
}

// Start starts etcd in cfg.DataDir and returns once it serves requests.
func Start(ctx context.Context, cfg Config) (*Etcd, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("embedded etcd: DataDir is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded etcd: creating data dir: %w", err)
	}
	ecfg, err := serverConfig(cfg)
	if err != nil {
		return nil, err
	}
	logger, logLevel := newServerLogger()
	ecfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(logger)
	server, err := embed.StartEtcd(ecfg)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: starting: %w", err)
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-server.Server.ReadyNotify():
	case err := <-server.Err():
		logLevel.SetLevel(zap.FatalLevel)
		server.Close()
		return nil, fmt.Errorf("embedded etcd: serving: %w", err)
	case <-ctx.Done():
		logLevel.SetLevel(zap.FatalLevel)
		server.Close()
		return nil, fmt.Errorf("embedded etcd: waiting for ready: %w", ctx.Err())
	case <-timer.C:
		logLevel.SetLevel(zap.FatalLevel)
		server.Close()
		return nil, fmt.Errorf("embedded etcd: not ready after %s", timeout)
	}
	endpoints := make([]string, 0, len(server.Clients))
	for _, l := range server.Clients {
		endpoints = append(endpoints, "http://"+l.Addr().String())
	}
	// The server's own process talks to it by direct calls: no gRPC
	// encoding, no loopback sockets. Endpoints stay served for others.
	client := v3client.New(server.Server)
	g := &gate{}
	client.KV = gatedKV{kv: client.KV, gate: g}
	client.Lease = gatedLease{Lease: client.Lease, gate: g}
	return &Etcd{server: server, client: client, gate: g, endpoints: endpoints, logLevel: logLevel}, nil
}

func serverConfig(cfg Config) (*embed.Config, error) {
	clientURL := cfg.ListenClientURL
	if clientURL == "" {
		clientURL = defaultClientURL
	}
	lc, err := url.Parse(clientURL)
	if err != nil {
		return nil, fmt.Errorf("embedded etcd: client URL %q: %w", clientURL, err)
	}
	lp, _ := url.Parse(listenPeerURL)
	ap, _ := url.Parse(peerURL)
	retention := cfg.CompactionRetention
	if retention <= 0 {
		retention = defaultRetention
	}

	e := embed.NewConfig()
	e.Name = memberName
	e.Dir = cfg.DataDir
	e.ListenClientUrls = []url.URL{*lc}
	e.AdvertiseClientUrls = []url.URL{*lc}
	e.ListenPeerUrls = []url.URL{*lp}
	e.AdvertisePeerUrls = []url.URL{*ap}
	e.InitialCluster = memberName + "=" + peerURL
	e.InitialClusterToken = memberName
	e.Logger = "zap"
	e.LogLevel = "error"
	e.LogOutputs = []string{"stderr"}
	// The gateway dials the configured address, which with port 0 is
	// not where the server listens; nothing here needs it.
	e.EnableGRPCGateway = false
	e.AutoCompactionMode = embed.CompactorModePeriodic
	e.AutoCompactionRetention = retention.String()
	// A single member elects itself within a few ticks of starting, so
	// short ticks make start-up quick; but every tick wakes the server,
	// idle or not (10 ms ticks cost ~27 ms of CPU a second here, 25 ms
	// ticks ~19 ms, with the same time to ready).
	// etcd keeps this many applied entries in memory after each of its
	// in-memory snapshots (every 100 entries) for followers that fall
	// behind; the default, 5000, holds ~5000 recent writes, each with its
	// whole object, which under a stream of pod writes is ~10 MB of heap
	// this single member never sends anyone.
	e.SnapshotCatchUpEntries = catchUpEntries
	e.TickMs = 25
	e.ElectionMs = 125
	return e, nil
}

// Client is a client connected to this server; Close closes it.
func (e *Etcd) Client() *clientv3.Client { return e.client }

// BackendPath is the database file etcd maps into memory.
func (e *Etcd) BackendPath() string {
	cfg := e.server.Server.Config()
	return cfg.BackendPath()
}

// Endpoints are the URLs the server serves clients on.
func (e *Etcd) Endpoints() []string { return append([]string(nil), e.endpoints...) }

// Close closes the client and stops the server, waiting until its data is
// flushed.
func (e *Etcd) Close() error {
	e.closeOnce.Do(func() {
		e.gate.close()
		err := e.client.Close()
		e.logLevel.SetLevel(zap.FatalLevel)
		e.server.Close()
		if err != nil && !errors.Is(err, context.Canceled) {
			e.closeErr = fmt.Errorf("embedded etcd: closing client: %w", err)
		}
	})
	return e.closeErr
}
