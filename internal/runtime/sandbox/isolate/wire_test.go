package isolate

import (
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestSpecWireRoundTrip(t *testing.T) {
	in := initSpec{
		Spec: Spec{Namespaces: true, Hostname: "pod-0", ScratchDir: "/var/s", NetNS: "/run/netns/x",
			CgroupProcs: []string{"/sys/fs/cgroup/a/cgroup.procs", ""},
			Mounts:      []Mount{{Source: "/v", Target: "/in", ReadOnly: true}, {Source: "/w", Target: "/out \u00e9"}}},
		Path: "/bin/sh", Args: []string{"sh", "-c", "echo \"$X\"", ""}, Env: []string{"X=1", "EMPTY="},
		Dir: "/work", Terminal: true, NetNSFD: 7,
	}
	in.LimitCapabilities, in.Capabilities = true, 1<<63|0xa80425fb
	data, err := encodeSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeSpec(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("decoded %+v, want %+v", out, in)
	}
	noCaps, err := decodeSpec(mustEncode(t, initSpec{Spec: Spec{LimitCapabilities: true}}))
	if err != nil || !noCaps.LimitCapabilities || noCaps.Capabilities != 0 {
		t.Errorf("empty capability set decoded as %+v, %v", noCaps, err)
	}
	empty, err := decodeSpec(mustEncode(t, initSpec{}))
	if err != nil || !reflect.DeepEqual(empty, initSpec{}) {
		t.Errorf("empty spec decoded as %+v, %v", empty, err)
	}
}

func mustEncode(t *testing.T, is initSpec) []byte {
	t.Helper()
	data, err := encodeSpec(is)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSpecWireRefusesNULBytes(t *testing.T) {
	for _, is := range []initSpec{
		{Args: []string{"a\x00b"}},
		{Env: []string{"A=\x00"}},
		{Spec: Spec{Mounts: []Mount{{Source: "/a", Target: "/b\x00"}}}},
		{Dir: "\x00"},
	} {
		if _, err := encodeSpec(is); err == nil || !strings.Contains(err.Error(), "NUL byte") {
			t.Errorf("%+v: err = %v, want a NUL byte error", is, err)
		}
	}
}

func TestStatusMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text from the Go init step", "plain text from the Go init step"},
		{"\x002\x00sandbox: mounting %q at %q: %v\x00/a b\x00/t\"\x00", `sandbox: mounting "/a b" at "/t\"": ` + syscall.ENOENT.Error()},
		{"\x000\x00sandbox: no command\x00", "sandbox: no command"},
		{"\x000\x00sandbox: %s is not a network namespace\x00/x\x00", "sandbox: /x is not a network namespace"},
		{"\x00", `sandbox: malformed init status "\x00"`},
		{"\x00x\x00f\x00", `sandbox: malformed init status "\x00x\x00f\x00"`},
		// A format its arguments do not fit is shown, not a failure.
		{"\x000\x00%s %s\x00a\x00", "a %!s(MISSING)"},
	} {
		if got := statusMessage([]byte(tc.in)); got != tc.want {
			t.Errorf("statusMessage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
