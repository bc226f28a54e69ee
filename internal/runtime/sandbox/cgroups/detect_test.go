package cgroups

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const hybridMountInfo = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

const hybridSelf = `4:memory:/agent/x
1:cpu:/
8:pids:/
0::/
`

const v2MountInfo = `30 22 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
`

const v1CoMounted = `31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
34 30 0:31 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
`

func TestDetect(t *testing.T) {
	files := map[string]string{
		"/sys/fs/cgroup/unified/cgroup.controllers": "",
		"/sys/fs/cgroup/cgroup.controllers":         "cpuset cpu io memory pids",
	}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, errors.New("no such file")
	}
	type want struct {
		v2     bool
		parent string
		ctrls  []string
	}
	cases := []struct {
		name      string
		mountInfo string
		self      string
		want      []want
		mode      string
	}{
		{"hybrid", hybridMountInfo, hybridSelf, []want{
			{false, "/sys/fs/cgroup/cpu/batchlet", []string{CPU}},
			{false, "/sys/fs/cgroup/memory/agent/x/batchlet", []string{Memory}},
			{false, "/sys/fs/cgroup/pids/batchlet", []string{Pids}},
		}, "v1"},
		{"v2", v2MountInfo, "0::/system.slice/agent.service\n", []want{
			{true, "/sys/fs/cgroup/batchlet", []string{Memory, CPU, Pids}},
		}, "v2"},
		{"v1 co-mounted, sub-tree mount", v1CoMounted, "3:cpu,cpuacct:/a\n4:memory:/outer/b\n", []want{
			{false, "/sys/fs/cgroup/cpu,cpuacct/a/batchlet", []string{CPU}},
			{false, "/sys/fs/cgroup/memory/b/batchlet", []string{Memory}},
		}, "v1"},
		{"none", "", "", nil, "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hier := detect(readMountInfo(strings.NewReader(tc.mountInfo)), ownCgroups(strings.NewReader(tc.self)), "batchlet", read)
			var got []want
			for _, h := range hier {
				got = append(got, want{h.v2, h.parent, h.controllers})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("hierarchies\n got %+v\nwant %+v", got, tc.want)
			}
			if mode := capabilities(hier).Mode; mode != tc.mode {
				t.Errorf("mode %q, want %q", mode, tc.mode)
			}
		})
	}
}

func TestResourcesConversions(t *testing.T) {
	cases := []struct{ milli, shares, weight int64 }{
		{0, 2, 1}, {250, 256, 10}, {1000, 1024, 39}, {1000000, 262144, 10000},
	}
	for _, tc := range cases {
		if s := milliToShares(tc.milli); s != tc.shares {
			t.Errorf("shares(%d) = %d, want %d", tc.milli, s, tc.shares)
		}
		if w := sharesToWeight(tc.shares); w != tc.weight {
			t.Errorf("weight(%d) = %d, want %d", tc.shares, w, tc.weight)
		}
	}
	c := Capabilities{Mode: "v1", Memory: true, CPU: true, Pids: true}
	if s := c.String(); s != "cgroup v1: memory, cpu, pids enforced" {
		t.Errorf("String() = %q", s)
	}
}
