package sandbox

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestContainerCapabilities(t *testing.T) {
	const (
		chown          = 1 << 0
		kill           = 1 << 5
		netBindService = 1 << 10
		netAdmin       = 1 << 12
		netRaw         = 1 << 13
		sysAdmin       = 1 << 21
	)
	yes, no := true, false
	caps := func(add, drop []corev1.Capability) *corev1.SecurityContext {
		return &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: add, Drop: drop}}
	}
	list := func(names ...corev1.Capability) []corev1.Capability { return names }
	for _, tc := range []struct {
		name    string
		sc      *corev1.SecurityContext
		want    uint64
		ignored []string
	}{
		{"no security context", nil, DefaultCapabilities, nil},
		{"no capabilities", &corev1.SecurityContext{}, DefaultCapabilities, nil},
		{"not privileged", &corev1.SecurityContext{Privileged: &no}, DefaultCapabilities, nil},
		{"privileged", &corev1.SecurityContext{Privileged: &yes}, AllCapabilities, nil},
		{"privileged ignores drop", &corev1.SecurityContext{Privileged: &yes,
			Capabilities: &corev1.Capabilities{Drop: list("ALL")}}, AllCapabilities, nil},
		{"add one", caps(list("NET_ADMIN"), nil), DefaultCapabilities | netAdmin, nil},
		{"drop one", caps(nil, list("NET_RAW")), DefaultCapabilities &^ netRaw, nil},
		{"drop ALL", caps(nil, list("ALL")), 0, nil},
		{"drop all lower-case", caps(nil, list("all")), 0, nil},
		{"drop ALL add one", caps(list("NET_BIND_SERVICE"), list("ALL")), netBindService, nil},
		{"add ALL", caps(list("ALL"), nil), AllCapabilities, nil},
		{"add ALL drop one", caps(list("ALL"), list("SYS_ADMIN")), AllCapabilities &^ sysAdmin, nil},
		{"drop ALL wins over add ALL", caps(list("ALL", "KILL"), list("ALL")), kill, nil},
		{"drop wins over add", caps(list("NET_ADMIN"), list("NET_ADMIN")), DefaultCapabilities, nil},
		{"case", caps(list("net_admin", "Sys_Admin"), list("Chown")),
			DefaultCapabilities&^chown | netAdmin | sysAdmin, nil},
		{"newest capability", caps(list("CHECKPOINT_RESTORE"), list("ALL")), 1 << 40, nil},
		{"unknown names change nothing", caps(list("NET_ADMIN", "NET_ADMINN"), list("KILLL")),
			DefaultCapabilities | netAdmin, []string{"NET_ADMINN", "KILLL"}},
		{"the CAP_ prefix is not a name", caps(list("CAP_SYS_ADMIN"), list("CAP_ALL", "cap_kill")),
			DefaultCapabilities, []string{"CAP_SYS_ADMIN", "CAP_ALL", "cap_kill"}},
		{"empty name", caps(list(""), nil), DefaultCapabilities, []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ignored := ContainerCapabilities(&corev1.Container{SecurityContext: tc.sc})
			if got != tc.want {
				t.Errorf("got %#x, want %#x", got, tc.want)
			}
			if !slices.Equal(ignored, tc.ignored) {
				t.Errorf("ignored %q, want %q", ignored, tc.ignored)
			}
		})
	}
}

// TestDefaultCapabilities pins the default set to the mask containerd's
// (and Docker's) containers show in /proc/self/status.
func TestDefaultCapabilities(t *testing.T) {
	if DefaultCapabilities != 0xa80425fb {
		t.Errorf("DefaultCapabilities = %#x, want 0xa80425fb", DefaultCapabilities)
	}
	if len(capabilityNumbers) != 41 {
		t.Errorf("%d capabilities named, want 41 (CHOWN to CHECKPOINT_RESTORE)", len(capabilityNumbers))
	}
	seen := map[int]string{}
	for name, n := range capabilityNumbers {
		if other, ok := seen[n]; ok || n < 0 || n > 40 {
			t.Errorf("%s: number %d (also %q)", name, n, other)
		}
		seen[n] = name
	}
}
