//go:build linux

package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"runtime"
	"sync"

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
	if err := m.inNewNamespace(p.NetNS, func(c *nlConn) error { return m.wirePod(c, p) }); err != nil {
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
	m.hostMu.Lock()
	defer m.hostMu.Unlock()
	var b nlBatch
	b.begin(m.hostConn, unix.RTM_SETLINK, unix.NLM_F_ACK, ifinfomsg(0, unix.IFF_UP, unix.IFF_UP))
	b.str(unix.IFLA_IFNAME, name)
	b.u32(unix.IFLA_MASTER, uint32(m.bridge.Attrs().Index))
	return m.hostConn.do(&b, nil)
}

// wirePod runs inside the pod's namespace: the pair is made there with
// its host end moved straight to the host, so the pod end can be eth0.
// The requests go in two batches, the second needing eth0's index, which
// the first ends by asking for.
func (m *Manager) wirePod(c *nlConn, p *Pod) error {
	eth, err := m.makePair(c, p)
	if errors.Is(err, unix.EEXIST) {
		// The pair of a namespace destroyed with this address moments
		// ago, which the kernel has not cleaned up yet.
		if old, lerr := m.host.LinkByName(p.HostVeth); lerr == nil {
			if derr := m.host.LinkDel(old); derr != nil && !isNotFound(derr) {
				return fmt.Errorf("removing the stale veth %s: %w", p.HostVeth, derr)
			}
		}
		eth, err = m.makePair(c, p)
	}
	if err != nil {
		return fmt.Errorf("creating veth pair %s/%s: %w", podInterface, p.HostVeth, err)
	}
	var b nlBatch
	ones, _ := m.subnet.Mask.Size()
	// struct ifaddrmsg: family, prefix length, flags, scope, index.
	ifa := []byte{unix.AF_INET, byte(ones), 0, 0, 0, 0, 0, 0}
	binary.NativeEndian.PutUint32(ifa[4:], uint32(eth))
	b.begin(c, unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, ifa)
	b.attr(unix.IFA_LOCAL, p.IP.To4())
	b.attr(unix.IFA_ADDRESS, p.IP.To4())
	// As the library did, which adds the broadcast route to local.
	b.attr(unix.IFA_BROADCAST, nthIP(m.subnet, hostCount(m.subnet)-1))
	// struct rtmsg: family, dst and src length, tos, table, protocol,
	// scope, type, flags; as the library made the default route.
	rtm := []byte{unix.AF_INET, 0, 0, 0, unix.RT_TABLE_MAIN, unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST, 0, 0, 0, 0}
	b.begin(c, unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK, rtm)
	b.attr(unix.RTA_GATEWAY, m.Gateway().To4())
	b.u32(unix.RTA_OIF, uint32(eth))
	if err := c.do(&b, nil); err != nil {
		return fmt.Errorf("addressing the pod's %s and adding its default route: %w", podInterface, err)
	}
	return nil
}

// makePair sets the loopback up and makes the veth pair, eth0 up, and
// returns eth0's index.
func (m *Manager) makePair(c *nlConn, p *Pod) (int, error) {
	var b nlBatch
	// The kernel gives every namespace's loopback the same index, so it
	// need not be looked up.
	b.begin(c, unix.RTM_NEWLINK, 0, ifinfomsg(loopbackIndex, unix.IFF_UP, unix.IFF_UP))
	// eth0 is made up, which saves a request of its own. Queue lengths
	// of zero, as the library made them: veth queues nothing.
	b.begin(c, unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, ifinfomsg(0, unix.IFF_UP, unix.IFF_UP))
	b.str(unix.IFLA_IFNAME, podInterface)
	b.u32(unix.IFLA_TXQLEN, 0)
	info := b.nest(unix.IFLA_LINKINFO)
	b.attr(unix.IFLA_INFO_KIND, []byte("veth"))
	data := b.nest(unix.IFLA_INFO_DATA)
	peer := b.nest(vethInfoPeer)
	b.raw(ifinfomsg(0, 0, 0))
	b.str(unix.IFLA_IFNAME, p.HostVeth)
	b.u32(unix.IFLA_TXQLEN, 0)
	b.u32(unix.IFLA_NET_NS_FD, uint32(m.hostNS))
	b.unnest(peer)
	b.unnest(data)
	b.unnest(info)
	b.begin(c, unix.RTM_GETLINK, 0, ifinfomsg(0, 0, 0))
	b.str(unix.IFLA_IFNAME, podInterface)
	b.u32(unix.IFLA_EXT_MASK, rtextFilterSkipStats)
	eth := 0
	err := c.do(&b, func(typ uint16, body []byte) error {
		if typ != unix.RTM_NEWLINK {
			return nil
		}
		l, err := parseLink(body)
		eth = l.index
		return err
	})
	if err == nil && eth <= 0 {
		err = fmt.Errorf("no index for %s", podInterface)
	}
	return eth, err
}

// inNewNamespace creates a network namespace, bind-mounts it at path and
// runs fn with a netlink socket inside it. The work happens on a locked
// thread that returns to the host namespace; a thread that cannot return
// dies with its goroutine.
func (m *Manager) inNewNamespace(path string, fn func(*nlConn) error) error {
	if err := touch(path); err != nil {
		return err
	}
	return onLockedThread(func() error { return onNewNamespace(path, fn) })
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

func onNewNamespace(path string, fn func(*nlConn) error) error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("creating a network namespace: %w", err)
	}
	if err := unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mounting the network namespace at %s: %w", path, err)
	}
	c, err := openNL(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in the pod namespace: %w", err)
	}
	defer c.Close()
	return fn(c)
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

// unmountOnly unmounts path and keeps the file, for a later mount. A
// namespace mounted more than once there is unmounted as often.
func unmountOnly(path string) error {
	for {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			// Not a mount point, or gone.
			return nil
		}
		if err != nil {
			return fmt.Errorf("unmounting %s: %w", path, err)
		}
		if !nsMounted(path) {
			return nil
		}
	}
}

// moveNamespace makes the namespace mounted at from available at to
// instead. A bind mount and an unmount, not MS_MOVE, which the kernel
// refuses under a shared mount such as /run usually is. Creating a file
// is what costs most here, so none is made that need not be: a missing
// to is made of spare, an empty file an earlier move left, when there is
// one, and from becomes spare (when given) or is removed.
func moveNamespace(from, to, spare string) error {
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
	return dropMount(from, spare)
}

// dropMount unmounts path, one of two mounts of a namespace, and makes
// its file spare (when given) or removes it.
func dropMount(path, spare string) error {
	if err := unmountOnly(path); err != nil {
		return err
	}
	if spare != "" && unix.Rename(path, spare) == nil {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}

// bindNamespace mounts the namespace mounted at from at to as well, to
// being made of spare when there is one. to is expected not to exist:
// it is renamed into place without looking first, and without replacing
// a file that is there after all.
func bindNamespace(from, to, spare string) error {
	made := false
	err := unix.Renameat2(unix.AT_FDCWD, spare, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		made = true
	case errors.Is(err, unix.EEXIST):
	default:
		// No spare, or a file system that cannot rename so.
		fd, err := unix.Open(to, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_CLOEXEC, 0o440)
		switch {
		case err == nil:
			made = true
			unix.Close(fd)
		case !errors.Is(err, unix.EEXIST):
			return fmt.Errorf("creating %s: %w", to, err)
		}
	}
	if err := unix.Mount(from, to, "", unix.MS_BIND, ""); err != nil {
		err = fmt.Errorf("bind-mounting %s at %s: %w", from, to, err)
		if made {
			err = errors.Join(err, os.Remove(to))
		}
		return err
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
