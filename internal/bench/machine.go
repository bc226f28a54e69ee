package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/stat's times: USER_HZ, 100 on every Linux
// architecture this runs on.
const userHZ = 100

// machineCPU is the CPU time the whole machine has spent busy (every
// process and the kernel's own threads and interrupts) and idle, from
// /proc/stat.
func machineCPU() (busy, idle time.Duration, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("reading machine CPU time: %w", err)
	}
	return parseMachineCPU(string(data))
}

// parseMachineCPU reads the "cpu" line of /proc/stat: user, nice,
// system, idle, iowait, irq, softirq, steal, then guest times, which
// user and nice already include. Idle is idle plus iowait; steal is time
// the machine did not have, so neither.
func parseMachineCPU(stat string) (busy, idle time.Duration, err error) {
	for _, line := range strings.Split(stat, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "cpu" {
			continue
		}
		if len(fields) < 8 {
			return 0, 0, fmt.Errorf("/proc/stat: cpu line with %d fields: %q", len(fields), line)
		}
		var t [7]uint64
		for i := range t {
			if t[i], err = strconv.ParseUint(fields[i+1], 10, 64); err != nil {
				return 0, 0, fmt.Errorf("/proc/stat: cpu field %d: %w", i+1, err)
			}
		}
		tick := func(n uint64) time.Duration { return time.Duration(n) * time.Second / userHZ }
		user, nice, system, idleT, iowait, irq, softirq := t[0], t[1], t[2], t[3], t[4], t[5], t[6]
		return tick(user + nice + system + irq + softirq), tick(idleT + iowait), nil
	}
	return 0, 0, fmt.Errorf("/proc/stat: no cpu line")
}
