package e2e

import (
	"testing"
	"time"
)

func TestKubectlDeadlineFollowsTimeoutFlag(t *testing.T) {
	cases := []struct {
		args []string
		want time.Duration
	}{
		{[]string{"get", "pods"}, 3 * time.Minute},
		{[]string{"wait", "--for=condition=complete", "--timeout=300s", "job/pi"}, 6 * time.Minute},
		{[]string{"wait", "--timeout", "10m", "job/pi"}, 11 * time.Minute},
		{[]string{"wait", "--timeout=30s", "job/pi"}, 3 * time.Minute},
		{[]string{"wait", "--timeout=bogus"}, 3 * time.Minute},
	}
	for _, c := range cases {
		if got := kubectlDeadline(c.args); got != c.want {
			t.Errorf("kubectlDeadline(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
