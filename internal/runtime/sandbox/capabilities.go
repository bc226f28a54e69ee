package sandbox

import (
	"strings"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// capabilityNumbers maps the Linux capabilities, named as in a pod's
// securityContext (without the CAP_ prefix), to their numbers.
var capabilityNumbers = map[string]int{
	"CHOWN":              unix.CAP_CHOWN,
	"DAC_OVERRIDE":       unix.CAP_DAC_OVERRIDE,
	"DAC_READ_SEARCH":    unix.CAP_DAC_READ_SEARCH,
	"FOWNER":             unix.CAP_FOWNER,
	"FSETID":             unix.CAP_FSETID,
	"KILL":               unix.CAP_KILL,
	"SETGID":             unix.CAP_SETGID,
	"SETUID":             unix.CAP_SETUID,
	"SETPCAP":            unix.CAP_SETPCAP,
	"LINUX_IMMUTABLE":    unix.CAP_LINUX_IMMUTABLE,
	"NET_BIND_SERVICE":   unix.CAP_NET_BIND_SERVICE,
	"NET_BROADCAST":      unix.CAP_NET_BROADCAST,
	"NET_ADMIN":          unix.CAP_NET_ADMIN,
	"NET_RAW":            unix.CAP_NET_RAW,
	"IPC_LOCK":           unix.CAP_IPC_LOCK,
	"IPC_OWNER":          unix.CAP_IPC_OWNER,
	"SYS_MODULE":         unix.CAP_SYS_MODULE,
	"SYS_RAWIO":          unix.CAP_SYS_RAWIO,
	"SYS_CHROOT":         unix.CAP_SYS_CHROOT,
	"SYS_PTRACE":         unix.CAP_SYS_PTRACE,
	"SYS_PACCT":          unix.CAP_SYS_PACCT,
	"SYS_ADMIN":          unix.CAP_SYS_ADMIN,
	"SYS_BOOT":           unix.CAP_SYS_BOOT,
	"SYS_NICE":           unix.CAP_SYS_NICE,
	"SYS_RESOURCE":       unix.CAP_SYS_RESOURCE,
	"SYS_TIME":           unix.CAP_SYS_TIME,
	"SYS_TTY_CONFIG":     unix.CAP_SYS_TTY_CONFIG,
	"MKNOD":              unix.CAP_MKNOD,
	"LEASE":              unix.CAP_LEASE,
	"AUDIT_WRITE":        unix.CAP_AUDIT_WRITE,
	"AUDIT_CONTROL":      unix.CAP_AUDIT_CONTROL,
	"SETFCAP":            unix.CAP_SETFCAP,
	"MAC_OVERRIDE":       unix.CAP_MAC_OVERRIDE,
	"MAC_ADMIN":          unix.CAP_MAC_ADMIN,
	"SYSLOG":             unix.CAP_SYSLOG,
	"WAKE_ALARM":         unix.CAP_WAKE_ALARM,
	"BLOCK_SUSPEND":      unix.CAP_BLOCK_SUSPEND,
	"AUDIT_READ":         unix.CAP_AUDIT_READ,
	"PERFMON":            unix.CAP_PERFMON,
	"BPF":                unix.CAP_BPF,
	"CHECKPOINT_RESTORE": unix.CAP_CHECKPOINT_RESTORE,
}

// AllCapabilities is every capability: the init step keeps of it what the
// kernel has and the supervisor holds.
const AllCapabilities = ^uint64(0)

// DefaultCapabilities is the set a container gets unless its
// securityContext says otherwise: containerd's default for CRI containers
// (as Docker's).
var DefaultCapabilities = capabilitySet("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD",
	"NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT",
	"KILL", "AUDIT_WRITE")

func capabilitySet(names ...string) uint64 {
	var set uint64
	for _, n := range names {
		set |= 1 << capabilityNumbers[n]
	}
	return set
}

// ContainerCapabilities is the capability set of container c, as
// containerd gives it: all of them when it is privileged (add and drop
// are then ignored); otherwise DefaultCapabilities, set to all by an "ALL"
// (in any case) in add, emptied by one in drop, then with the other names
// added and finally the others dropped. Like containerd, which upper-cases
// each name and puts CAP_ before it, and runc, which skips capabilities it
// does not know, a name that is not a capability (a misspelling, or one
// written with the CAP_ prefix) changes nothing; those are returned in
// ignored, for the caller to log.
func ContainerCapabilities(c *corev1.Container) (set uint64, ignored []string) {
	sc := c.SecurityContext
	if sc == nil {
		return DefaultCapabilities, nil
	}
	if sc.Privileged != nil && *sc.Privileged {
		return AllCapabilities, nil
	}
	if sc.Capabilities == nil {
		return DefaultCapabilities, nil
	}
	add, addAll, ignored := capabilityList(sc.Capabilities.Add, nil)
	drop, dropAll, ignored := capabilityList(sc.Capabilities.Drop, ignored)
	set = DefaultCapabilities
	if addAll {
		set = AllCapabilities
	}
	if dropAll {
		set = 0
	}
	return (set | add) &^ drop, ignored
}

// capabilityList turns a list of names into a set, says whether it holds
// "ALL", and appends the names that are not capabilities to ignored.
func capabilityList(names []corev1.Capability, ignored []string) (set uint64, all bool, _ []string) {
	for _, name := range names {
		n := strings.ToUpper(string(name))
		if n == "ALL" {
			all = true
			continue
		}
		num, ok := capabilityNumbers[n]
		if !ok {
			ignored = append(ignored, string(name))
			continue
		}
		set |= 1 << num
	}
	return set, all, ignored
}

// ConfinedFromNetworkChanges says whether a container started with sp
// can change nothing of its network namespace's configuration: its
// capabilities are limited to a set without CAP_NET_ADMIN, which every
// such change needs, and CAP_SYS_ADMIN, which would let it get around
// the limit (by joining other namespaces, for one).
func ConfinedFromNetworkChanges(sp *Spec) bool {
	const network = 1<<unix.CAP_NET_ADMIN | 1<<unix.CAP_SYS_ADMIN
	return sp != nil && sp.LimitCapabilities && sp.Capabilities&network == 0
}
