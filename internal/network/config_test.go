package network

import (
	"strings"
	"testing"
)

func TestCheckConfigRefusesWhatNoNodeCouldUse(t *testing.T) {
	for _, tc := range []struct {
		cidr, bridge, wantErr string
	}{
		{"", "", ""},
		{"10.244.5.0/24", "bl-br5", ""},
		{"10.244.5.0/29", "", ""},
		{"10.300.0.0/24", "", "invalid CIDR address"},
		{"10.244.5.0", "", "invalid CIDR address"},
		{"fd00::/64", "", "only IPv4"},
		{"10.244.5.0/30", "", "too small"},
		{"", "a-name-of-16-chr", "longer than 15"},
		{"", "bl/br", "not a valid interface name"},
		{"", "..", "not a valid interface name"},
	} {
		err := CheckConfig(tc.cidr, tc.bridge)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckConfig(%q, %q) = %v, want nil", tc.cidr, tc.bridge, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("CheckConfig(%q, %q) = %v, want an error with %q", tc.cidr, tc.bridge, err, tc.wantErr)
		}
	}
}
