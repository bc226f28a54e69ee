package job

import (
	"fmt"
	"strconv"
	"strings"
)

// parseIndexes checks an index list such as "1,3-5,7" against completions
// and returns how many indexes it names. Intervals must be strictly
// increasing and every index below completions.
func parseIndexes(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, nil
	}
	var total int32
	last := int32(-1)
	for i, part := range strings.Split(s, ",") {
		x, y, err := parseInterval(part, completions)
		if err != nil {
			return 0, err
		}
		if i > 0 && last >= x {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", last, x)
		}
		total += y - x + 1
		last = y
	}
	return total, nil
}

// intervals returns the well-formed intervals of s, skipping malformed
// ones (parseIndexes reports those).
func intervals(s string, completions int32) [][2]int32 {
	if s == "" {
		return nil
	}
	var out [][2]int32
	for _, part := range strings.Split(s, ",") {
		if x, y, err := parseInterval(part, completions); err == nil {
			out = append(out, [2]int32{x, y})
		}
	}
	return out
}

func parseInterval(s string, completions int32) (int32, int32, error) {
	limits := strings.Split(s, "-")
	if len(limits) > 2 {
		return 0, 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", s)
	}
	x, err := parseIndex(limits[0], completions)
	if err != nil {
		return 0, 0, err
	}
	if len(limits) == 1 {
		return x, x, nil
	}
	y, err := parseIndex(limits[1], completions)
	if err != nil {
		return 0, 0, err
	}
	if x >= y {
		return 0, 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", x, y)
	}
	return x, y, nil
}

func parseIndex(s string, completions int32) (int32, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("cannot convert string to integer for index: %q", s)
	}
	if n >= int(completions) {
		return 0, fmt.Errorf("too large index: %q", s)
	}
	if n < 0 { // unreachable after splitting on '-', kept for safety
		return 0, fmt.Errorf("cannot convert string to integer for index: %q", s)
	}
	return int32(n), nil
}

// overlap returns the first index present in both completed and failed.
func overlap(completed, failed string, completions int32) (int32, bool) {
	c := intervals(completed, completions)
	f := intervals(failed, completions)
	for i, k := 0, 0; i < len(c) && k < len(f); {
		if c[i][0] <= f[k][1] && f[k][0] <= c[i][1] {
			return max(c[i][0], f[k][0]), true
		}
		if c[i][0] <= f[k][0] {
			i++
		} else {
			k++
		}
	}
	return 0, false
}
