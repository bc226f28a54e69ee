package embedded

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Client settings follow kube-apiserver's: keepalives detect a dead
// member so the client can fail over to another endpoint.
const (
	dialTimeout          = 20 * time.Second
	dialKeepAliveTime    = 30 * time.Second
	dialKeepAliveTimeout = 10 * time.Second
)

// NewClient connects to an etcd cluster at endpoints, over TLS when tlsCfg
// is set. Both the embedded server and external clusters use it, so the
// store sees the same client either way.
func NewClient(endpoints []string, tlsCfg *tls.Config) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("etcd client: no endpoints")
	}
	logger, err := zap.NewProductionConfig().Build(zap.IncreaseLevel(clientLogLevel))
	if err != nil {
		return nil, fmt.Errorf("etcd client: building logger: %w", err)
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		TLS:                  tlsCfg,
		DialTimeout:          dialTimeout,
		DialKeepAliveTime:    dialKeepAliveTime,
		DialKeepAliveTimeout: dialKeepAliveTimeout,
		Logger:               logger,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	return client, nil
}
