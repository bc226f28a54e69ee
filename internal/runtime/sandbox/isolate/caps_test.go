package isolate

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// capsScript prints the capability sets of the container's command
// itself: sh is what the init step execs.
const capsScript = "grep ^Cap /proc/$$/status"

// capSets parses the Cap* lines of a /proc/PID/status.
func capSets(t *testing.T, status string) map[string]uint64 {
	t.Helper()
	sets := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasPrefix(k, "Cap") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("bad line %q", sc.Text())
		}
		sets[k] = n
	}
	if len(sets) != 5 {
		t.Fatalf("capability sets in %q: %v", status, sets)
	}
	return sets
}

// containerCaps runs capsScript in a container of sp started each way
// the runtime starts one, and returns the sets each saw.
func containerCaps(t *testing.T, sp Spec) map[string]map[string]uint64 {
	t.Helper()
	wrapped := func(argv []string) string {
		cmd, out := startInit(t, sp, capsScript, nil, argv)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v (output %q)", err, out.String())
		}
		return out.String()
	}
	f, err := StartForkServer(cInitArgv())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		f.Close()
		_ = f.cmd.Wait()
	}()
	forked, ws, err := runForked(t, f, sp, capsScript)
	if err != nil || ws.ExitStatus() != 0 {
		t.Fatalf("forked: %v, %v (output %q)", err, ws, forked)
	}
	return map[string]map[string]uint64{
		"C wrapped":  capSets(t, wrapped(cInitArgv())),
		"Go wrapped": capSets(t, wrapped(goInitArgv())),
		"C forked":   capSets(t, forked),
	}
}

func TestContainerCapabilities(t *testing.T) {
	requireNamespaces(t)
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	host := capSets(t, string(data))
	// containerd's default set, as /proc shows it in a Docker container.
	const def = 0xa80425fb
	const netAdmin, netBindService = 1 << 12, 1 << 10
	limited := func(set uint64) Spec {
		return Spec{Namespaces: true, LimitCapabilities: true, Capabilities: set}
	}
	// sets is what the command must hold: bounding, effective and
	// permitted all alike, inheritable and ambient empty.
	sets := func(set uint64) map[string]uint64 {
		return map[string]uint64{"CapBnd": set, "CapEff": set, "CapPrm": set, "CapInh": 0, "CapAmb": 0}
	}
	cases := []struct {
		name string
		sp   Spec
		want map[string]uint64
	}{
		{"default", limited(def), sets(def)},
		{"default plus NET_ADMIN", limited(def | netAdmin), sets(def | netAdmin)},
		{"none", limited(0), sets(0)},
		{"only NET_BIND_SERVICE", limited(netBindService), sets(netBindService)},
		// Bits past the kernel's last capability are ignored.
		{"all", limited(^uint64(0)), sets(host["CapBnd"])},
		// Unset: what a root command exec'd by the supervisor gets.
		{"unset", Spec{Namespaces: true}, map[string]uint64{"CapBnd": host["CapBnd"],
			"CapEff": host["CapBnd"], "CapPrm": host["CapBnd"], "CapInh": host["CapInh"], "CapAmb": host["CapAmb"]}},
		{"without namespaces", Spec{LimitCapabilities: true, Capabilities: def}, sets(def)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for how, got := range containerCaps(t, tc.sp) {
				for k, want := range tc.want {
					if got[k] != want {
						t.Errorf("%s: %s = %016x, want %016x", how, k, got[k], want)
					}
				}
			}
		})
	}
}

// TestCapabilitiesBindTheCommand: what the set lacks, the command cannot
// do, though the set-up before it needed the same privilege.
func TestCapabilitiesBindTheCommand(t *testing.T) {
	requireNamespaces(t)
	const script = "hostname changed-by-container 2>/dev/null; echo rc=$?"
	for _, tc := range []struct {
		name string
		sp   Spec
		want string
	}{
		// The default set has no CAP_SYS_ADMIN.
		{"default", Spec{Namespaces: true, Hostname: "h", LimitCapabilities: true, Capabilities: 0xa80425fb}, "rc=1\n"},
		{"unset", Spec{Namespaces: true, Hostname: "h"}, "rc=0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for how, argv := range map[string][]string{"C": cInitArgv(), "Go": goInitArgv()} {
				cmd, out := startInit(t, tc.sp, script, nil, argv)
				_ = cmd.Wait()
				if out.String() != tc.want {
					t.Errorf("%s: %q, want %q", how, out.String(), tc.want)
				}
			}
		})
	}
}
