// Package integration runs tests and benchmarks against a real in-process
// batchlet server (embedded etcd, apiserver over HTTPS, all controllers).
package integration

import (
	"os"
	"testing"

	"github.com/batchlet/batchlet/internal/server/servertest"
)

func TestMain(m *testing.M) { os.Exit(servertest.RunTests(m)) }
