//go:build !linux

package proxy

import "errors"

func newAddrs(ifname, label string) (addrHolder, error) {
	return nil, errors.New("holding service addresses needs Linux")
}
