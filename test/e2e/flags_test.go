package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBadNetworkFlagsStopAtStart: a pod CIDR or bridge name no node could
// use stops the server or agent at once, naming the flag, instead of
// leaving pods in the host network.
func TestBadNetworkFlagsStopAtStart(t *testing.T) {
	dataDir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"server", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--pod-cidr", "10.300.0.0/24"}, `--pod-cidr: pod CIDR "10.300.0.0/24"`},
		{[]string{"agent", "--server", "https://127.0.0.1:1", "--token", "t", "--pod-bridge", "a-name-of-16-chr"}, "--pod-cidr/--pod-bridge: bridge name"},
		{[]string{"agent", "--server", "https://127.0.0.1:1", "--token", "t", "--node-ip", "10.0.0"}, `--node-ip: "10.0.0" is not an IP address`},
	} {
		out, err := exec.Command(batchletBin, tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("batchlet %s: err %v, output %q; want a failure saying %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
	// Nothing was started: the server made no etcd data.
	if _, err := os.Stat(dataDir + "/etcd"); err == nil {
		t.Errorf("the server created its etcd data before refusing its flags")
	}
}
