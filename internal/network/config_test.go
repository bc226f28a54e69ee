package network

import (
	"net"
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

func TestPodAddresses(t *testing.T) {
	for cidr, want := range map[string]int{"10.244.0.0/24": 253, "10.244.0.0/16": 65533, "10.244.0.0/29": 5, "10.244.0.0/31": 0} {
		_, subnet, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if got := PodAddresses(subnet); got != want {
			t.Errorf("%s: %d pod addresses, want %d", cidr, got, want)
		}
	}
	if got := PodAddresses(nil); got != 0 {
		t.Errorf("no subnet: %d pod addresses", got)
	}
}
