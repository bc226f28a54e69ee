package main

import (
	"io"
	"reflect"
	"testing"
	"time"
)

func TestAddrFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"nothing set", nil, "redis:6379"},
		{"service variables", map[string]string{"REDIS_SERVICE_HOST": "10.0.0.7", "REDIS_SERVICE_PORT": "6380"}, "10.0.0.7:6380"},
		{"service host only", map[string]string{"REDIS_SERVICE_HOST": "10.0.0.7"}, "10.0.0.7:6379"},
		{"REDIS_HOST wins", map[string]string{"REDIS_HOST": "cache", "REDIS_SERVICE_HOST": "10.0.0.7"}, "cache:6379"},
		{"REDIS_HOST with port", map[string]string{"REDIS_HOST": "cache:7000", "REDIS_SERVICE_PORT": "6380"}, "cache:7000"},
		{"IPv6 service host", map[string]string{"REDIS_SERVICE_HOST": "fd00::1"}, "[fd00::1]:6379"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := addrFromEnv(mapEnv(tt.env)); got != tt.want {
				t.Errorf("addrFromEnv = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	env := mapEnv(map[string]string{"REDIS_SERVICE_HOST": "10.0.0.7", "REDIS_PASSWORD": "pw"})
	got, err := parseConfig([]string{"-queue", "q", "-lease", "3", "-wait", "0", "--", "sh", "-c", "cat"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config{addr: "10.0.0.7:6379", password: "pw", queue: "q", lease: 3 * time.Second,
		workTime: 10 * time.Second, retryFor: time.Minute, command: []string{"sh", "-c", "cat"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseConfig = %+v, want %+v", got, want)
	}
	def, err := parseConfig(nil, mapEnv(nil), io.Discard)
	if err != nil || def.addr != "redis:6379" || def.queue != "job2" || def.lease != 10*time.Second || def.wait != 2*time.Second {
		t.Fatalf("defaults = %+v, %v", def, err)
	}
	for _, bad := range [][]string{{"-lease", "0"}, {"-wait", "-1"}, {"-queue", ""}, {"-nosuchflag"}} {
		if _, err := parseConfig(bad, mapEnv(nil), io.Discard); err == nil {
			t.Errorf("parseConfig(%q) succeeded", bad)
		}
	}
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}
