//go:build integration

package job_test

import (
	"os"
	"testing"

	"github.com/batchlet/batchlet/internal/server/servertest"
)

// The in-process server's agent re-executes the test binary as container
// shims; RunTests routes those invocations.
func TestMain(m *testing.M) { os.Exit(servertest.RunTests(m)) }
