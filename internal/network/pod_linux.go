//go:build linux

package network

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// podInterface is the pod's end of its veth pair, as in Kubernetes.
const podInterface = "eth0"

// vethName is the host end's name: unique per bridge and address, within
// the 15 bytes an interface name may have. It does not name the pod, so a
// namespace handed to another pod keeps its pair as it is.
func vethName(bridge string, ip net.IP) string {
	h := fnv.New32a()
	h.Write([]byte(bridge))
	return fmt.Sprintf("blv%04x%08x", h.Sum32()&0xffff, []byte(ip.To4()))
}

// build makes p's namespace, its loopback, its veth pair with the pod's
// address and default route, and enslaves the host end to the bridge.
func (m *Manager) build(p *Pod) error {
	if err := m.inNewNamespace(p.NetNS, func(h *netlink.Handle) error { return m.wirePod(h, p) }); err != nil {
		return err
	}
	host, err := m.host.LinkByName(p.HostVeth)
	if err != nil {
		return fmt.Errorf("finding veth %s: %w", p.HostVeth, err)
	}
	if err := m.host.LinkSetMasterByIndex(host, m.bridge.Attrs().Index); err != nil {
		return fmt.Errorf("attaching %s to %s: %w", p.HostVeth, m.Bridge(), err)
	}
	if err := m.host.LinkSetUp(host); err != nil {
		return fmt.Errorf("setting %s up: %w", p.HostVeth, err)
	}
	return nil
}

// wirePod runs inside the pod's namespace: the pair is made there with
// its host end moved straight to the host, so the pod end can be eth0.
func (m *Manager) wirePod(h *netlink.Handle, p *Pod) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding the pod's loopback: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("setting the pod's loopback up: %w", err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: podInterface},
		PeerName: p.HostVeth, PeerNamespace: netlink.NsFd(int(m.hostNS))}
	err = h.LinkAdd(veth)
	if errors.Is(err, unix.EEXIST) {
		// The pair of a namespace destroyed with this address moments
		// ago, which the kernel has not cleaned up yet.
		if old, lerr := m.host.LinkByName(p.HostVeth); lerr == nil {
			if derr := m.host.LinkDel(old); derr != nil && !isNotFound(derr) {
				return fmt.Errorf("removing the stale veth %s: %w", p.HostVeth, derr)
			}
		}
		err = h.LinkAdd(veth)
	}
	if err != nil {
		return fmt.Errorf("creating veth pair %s/%s: %w", podInterface, p.HostVeth, err)
	}
	eth, err := h.LinkByName(podInterface)
	if err != nil {
		return fmt.Errorf("finding the pod's %s: %w", podInterface, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.IP, Mask: m.subnet.Mask}}
	if err := h.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("addressing the pod's %s: %w", podInterface, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("setting the pod's %s up: %w", podInterface, err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: m.Gateway()}); err != nil {
		return fmt.Errorf("adding the pod's default route: %w", err)
	}
	return nil
}

// inNewNamespace creates a network namespace, bind-mounts it at path and
// runs fn with a netlink handle inside it. The work happens on a locked
// thread that returns to the host namespace; a thread that cannot return
// dies with its goroutine.
func (m *Manager) inNewNamespace(path string, fn func(*netlink.Handle) error) error {
	if err := touch(path); err != nil {
		return err
	}
	return onLockedThread(func() error { return m.onNewNamespace(path, fn) })
}

// onLockedThread runs fn, which may move its thread into another network
// namespace, on a locked thread that goes back to the namespace it came
// from after (not necessarily the node's: a node may be set up from
// inside another namespace). A thread that cannot go back stays locked
// and dies with its goroutine.
func onLockedThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("opening the thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		err = fn()
		if serr := netns.Set(orig); serr != nil {
			errc <- errors.Join(err, fmt.Errorf("returning to the host network namespace: %w", serr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

func (m *Manager) onNewNamespace(path string, fn func(*netlink.Handle) error) error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("creating a network namespace: %w", err)
	}
	self := "/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/ns/net"
	if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mounting the network namespace at %s: %w", path, err)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in the pod namespace: %w", err)
	}
	defer h.Close()
	return fn(h)
}

func touch(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o440)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	return f.Close()
}

// nsMounted reports whether path is a mounted namespace.
func nsMounted(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// unmountNamespace unmounts path (the namespace then dies with the last
// process in it) and removes the file. A path already gone counts as
// done.
func unmountNamespace(path string) error {
	if err := unmountOnly(path); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

// unmountOnly unmounts path and keeps the file, for a later mount.
func unmountOnly(path string) error {
	for nsMounted(path) {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT) {
				break
			}
			return fmt.Errorf("unmounting %s: %w", path, err)
		}
	}
	return nil
}

// moveNamespace makes the namespace mounted at from available at to
// instead. A bind mount and an unmount, not MS_MOVE, which the kernel
// refuses under a shared mount such as /run usually is. With keep, from
// stays as an empty file: creating and removing files is what costs most
// here.
func moveNamespace(from, to string, keep bool) error {
	if err := touch(to); err != nil {
		return err
	}
	if err := unix.Mount(from, to, "", unix.MS_BIND, ""); err != nil {
		return errors.Join(fmt.Errorf("bind-mounting %s at %s: %w", from, to, err), os.Remove(to))
	}
	if keep {
		return unmountOnly(from)
	}
	return unmountNamespace(from)
}
