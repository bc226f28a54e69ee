package agent

import (
	"bufio"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
)

func labelsEverything() labels.Selector { return labels.Everything() }

// DefaultMaxPods is kubelet's default pod capacity.
const DefaultMaxPods = 110

// Kubelet's default hard eviction thresholds, subtracted from capacity to
// give allocatable.
var evictionMemory = resource.MustParse("100Mi")

const evictionNodefsPercent = 10

// podCapacity is the node's pod capacity for a configured --max-pods
// (0: kubelet's default).
func podCapacity(maxPods int) int {
	if maxPods <= 0 {
		return DefaultMaxPods
	}
	return maxPods
}

// hostCapacity measures the host: CPUs, memory, pods and the data dir's
// filesystem.
func hostCapacity(dataDir string, maxPods int) (capacity, allocatable corev1.ResourceList) {
	maxPods = podCapacity(maxPods)
	capacity = corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
	}
	allocatable = capacity.DeepCopy()
	if kb, err := memTotalKiB(); err == nil {
		mem := resource.NewQuantity(kb*1024, resource.BinarySI)
		capacity[corev1.ResourceMemory] = *mem
		alloc := mem.DeepCopy()
		alloc.Sub(evictionMemory)
		allocatable[corev1.ResourceMemory] = alloc
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dataDir, &fs); err == nil {
		total := int64(fs.Blocks) * fs.Bsize
		capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(total, resource.BinarySI)
		allocatable[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(total*(100-evictionNodefsPercent)/100, resource.DecimalSI)
	}
	return capacity, allocatable
}

func memTotalKiB() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			return strconv.ParseInt(fields[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("MemTotal not found in /proc/meminfo")
}

func readTrimmed(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func osImage() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return goruntime.GOOS
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return goruntime.GOOS
}

func kernelVersion() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return ""
	}
	var b strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}

// primaryIP is the source address of the default route, else the first
// non-loopback address, else 127.0.0.1.
func primaryIP() string {
	// Connecting a UDP socket sends nothing; it only picks a route.
	if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		defer c.Close()
		if ua, ok := c.LocalAddr().(*net.UDPAddr); ok && !ua.IP.IsUnspecified() {
			return ua.IP.String()
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}
