package main

import "testing"

func TestKubeVersionOfModule(t *testing.T) {
	for _, tc := range []struct {
		mod  string
		want kubeVersion
		ok   bool
	}{
		{"v0.34.2", kubeVersion{"v1.34.2", "1", "34"}, true},
		{"v0.35.0-alpha.1", kubeVersion{"v1.35.0-alpha.1", "1", "35"}, true},
		{"v0.0.0-20250101000000-abcdef123456", kubeVersion{}, false},
		{"v1.2.3", kubeVersion{}, false},
		{"(devel)", kubeVersion{}, false},
	} {
		got, ok := kubeVersionOfModule(tc.mod)
		if got != tc.want || ok != tc.ok {
			t.Errorf("kubeVersionOfModule(%q) = %+v, %v; want %+v, %v", tc.mod, got, ok, tc.want, tc.ok)
		}
	}
}
