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
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// podInterface is the pod's end of its veth pair, as in Kubernetes.
const podInterface = "eth0"

// loopbackIndex is the index of the loopback in every network namespace
// (LOOPBACK_IFINDEX).
const loopbackIndex = 1

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
	if err := m.attachToBridge(p.HostVeth); err != nil {
		return fmt.Errorf("attaching %s to %s and setting it up: %w", p.HostVeth, m.Bridge(), err)
	}
	return nil
}

// attachToBridge enslaves the host link called name to the bridge and
// sets it up, in one request that names the link: the netlink library
// takes three, looking the link up first.
func (m *Manager) attachToBridge(name string) error {
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: m.hostSock}
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Flags, msg.Change = unix.IFF_UP, unix.IFF_UP
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(m.bridge.Attrs().Index))))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// wirePod runs inside the pod's namespace: the pair is made there with
// its host end moved straight to the host, so the pod end can be eth0.
func (m *Manager) wirePod(h *netlink.Handle, p *Pod) error {
	// The kernel gives every namespace's loopback the same index, so it
	// need not be looked up.
	lo := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: "lo", Index: loopbackIndex}}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("setting the pod's loopback up: %w", err)
	}
	// eth0 is made up, which saves a request of its own.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: podInterface, Flags: net.FlagUp},
		PeerName: p.HostVeth, PeerNamespace: netlink.NsFd(int(m.hostNS))}
	err := h.LinkAdd(veth)
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
	// LinkAdd looked the new link up for its index already.
	var eth netlink.Link = veth
	if veth.Index == 0 {
		if eth, err = h.LinkByName(podInterface); err != nil {
			return fmt.Errorf("finding the pod's %s: %w", podInterface, err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.IP, Mask: m.subnet.Mask}}
	if err := h.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("addressing the pod's %s: %w", podInterface, err)
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
		orig, err := threadNamespace()
		if err != nil {
			errc <- fmt.Errorf("opening the thread's network namespace: %w", err)
			return
		}
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

// unlockedNS is the network namespace of the threads no goroutine has
// locked, opened once: a thread moved elsewhere is either moved back
// before it is unlocked or dies, and the runtime makes new threads from
// one that never moved.
var unlockedNS struct {
	mu     sync.Mutex
	ns     netns.NsHandle
	opened bool
}

// threadNamespace is the namespace of the calling thread, which a
// goroutine has just locked and not moved yet.
func threadNamespace() (netns.NsHandle, error) {
	unlockedNS.mu.Lock()
	defer unlockedNS.mu.Unlock()
	if !unlockedNS.opened {
		ns, err := netns.Get()
		if err != nil {
			return netns.None(), err
		}
		unlockedNS.ns, unlockedNS.opened = ns, true
	}
	return unlockedNS.ns, nil
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
// refuses under a shared mount such as /run usually is. Creating a file
// is what costs most here, so none is made that need not be: a missing
// to is made of spare, an empty file an earlier move left, when there is
// one; from stays as an empty file with keep, else it becomes spare
// (when given) or is removed.
func moveNamespace(from, to, spare string, keep bool) error {
	err := unix.Mount(from, to, "", unix.MS_BIND, "")
	if errors.Is(err, unix.ENOENT) {
		if err := makeFile(to, spare); err != nil {
			return err
		}
		if err := unix.Mount(from, to, "", unix.MS_BIND, ""); err != nil {
			return errors.Join(fmt.Errorf("bind-mounting %s at %s: %w", from, to, err), os.Remove(to))
		}
	} else if err != nil {
		return fmt.Errorf("bind-mounting %s at %s: %w", from, to, err)
	}
	if err := unmountOnly(from); err != nil || keep {
		return err
	}
	if spare != "" && unix.Rename(from, spare) == nil {
		return nil
	}
	if err := os.Remove(from); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", from, err)
	}
	return nil
}

// makeFile creates the empty file path, renaming spare to it when there
// is one.
func makeFile(path, spare string) error {
	if spare != "" && unix.Rename(spare, path) == nil {
		return nil
	}
	return touch(path)
}
