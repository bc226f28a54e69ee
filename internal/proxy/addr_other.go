//go:build !linux

package proxy

import "errors"

func newAddrs(ifname, label string) (addrHolder, error) {
	return nil, errors.New("holding service addresses needs Linux")
}

func newServiceNetns(link, linkNet string) (addrHolder, error) {
	return nil, errors.New("a service network namespace needs Linux")
}
