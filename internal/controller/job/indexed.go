package job

import (
	"sort"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// noIndex marks a pod without a valid completion index.
const noIndex = -1

// interval is an inclusive range of completion indexes.
type interval struct{ first, last int }

// intervals is a sorted list of disjoint, non-adjacent intervals: the
// in-memory form of status.completedIndexes and status.failedIndexes.
type intervals []interval

// parseIntervals reads the "1,3-5,7" form, keeping only indexes below
// limit. Malformed parts are skipped: the status is written by us, and a
// bad value must not stop the Job.
func parseIntervals(s string, limit int) intervals {
	var out intervals
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, ok := parseRange(part)
		if !ok || lo >= limit {
			continue
		}
		if hi >= limit {
			hi = limit - 1
		}
		out = append(out, interval{lo, hi})
	}
	return normalize(out)
}

func parseRange(part string) (int, int, bool) {
	a, b, isRange := strings.Cut(strings.TrimSpace(part), "-")
	lo, err := strconv.Atoi(a)
	if err != nil || lo < 0 {
		return 0, 0, false
	}
	if !isRange {
		return lo, lo, true
	}
	hi, err := strconv.Atoi(b)
	if err != nil || hi < lo {
		return 0, 0, false
	}
	return lo, hi, true
}

// normalize sorts and merges overlapping or adjacent intervals.
func normalize(in intervals) intervals {
	if len(in) == 0 {
		return nil
	}
	sort.Slice(in, func(i, j int) bool { return in[i].first < in[j].first })
	out := intervals{in[0]}
	for _, iv := range in[1:] {
		last := &out[len(out)-1]
		if iv.first <= last.last+1 {
			if iv.last > last.last {
				last.last = iv.last
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// with returns the union of the intervals and the given indexes.
func (iv intervals) with(indexes ...int) intervals {
	if len(indexes) == 0 {
		return iv
	}
	merged := make(intervals, 0, len(iv)+len(indexes))
	merged = append(merged, iv...)
	for _, x := range indexes {
		merged = append(merged, interval{x, x})
	}
	return normalize(merged)
}

func (iv intervals) total() int {
	n := 0
	for _, r := range iv {
		n += r.last - r.first + 1
	}
	return n
}

func (iv intervals) has(x int) bool {
	i := sort.Search(len(iv), func(i int) bool { return iv[i].last >= x })
	return i < len(iv) && iv[i].first <= x
}

// String renders runs of three or more as "a-b" and shorter runs as
// single numbers, the way upstream writes completedIndexes.
func (iv intervals) String() string {
	var b strings.Builder
	for _, r := range iv {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		switch {
		case r.first == r.last:
			b.WriteString(strconv.Itoa(r.first))
		case r.last == r.first+1:
			b.WriteString(strconv.Itoa(r.first))
			b.WriteByte(',')
			b.WriteString(strconv.Itoa(r.last))
		default:
			b.WriteString(strconv.Itoa(r.first))
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.last))
		}
	}
	return b.String()
}

// overlap counts the indexes present in both lists.
func (iv intervals) overlap(other intervals) int {
	n, i, j := 0, 0, 0
	for i < len(iv) && j < len(other) {
		lo := max(iv[i].first, other[j].first)
		hi := min(iv[i].last, other[j].last)
		if hi >= lo {
			n += hi - lo + 1
		}
		if iv[i].last < other[j].last {
			i++
		} else {
			j++
		}
	}
	return n
}

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

func completions(job *batchv1.Job) int {
	if job.Spec.Completions == nil {
		return 0
	}
	return int(*job.Spec.Completions)
}

// completionIndex reads the pod's index from its annotation (or, for pods
// created by other tools, its label); noIndex when absent or invalid.
func completionIndex(pod *corev1.Pod) int {
	v, ok := pod.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		v, ok = pod.Labels[batchv1.JobCompletionIndexAnnotation]
	}
	if !ok {
		return noIndex
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return noIndex
	}
	return i
}

// validIndex is the pod's index when it is below completions, else noIndex.
func validIndex(job *batchv1.Job, pod *corev1.Pod) int {
	i := completionIndex(pod)
	if i == noIndex || i >= completions(job) {
		return noIndex
	}
	return i
}

// annotationCount reads a non-negative integer annotation, 0 if absent.
func annotationCount(pod *corev1.Pod, key string) int32 {
	if pod == nil {
		return 0
	}
	v, err := strconv.ParseInt(pod.Annotations[key], 10, 32)
	if err != nil || v < 0 {
		return 0
	}
	return int32(v)
}

func indexFailureCount(pod *corev1.Pod) int32 {
	return annotationCount(pod, batchv1.JobIndexFailureCountAnnotation)
}

func indexIgnoredFailureCount(pod *corev1.Pod) int32 {
	return annotationCount(pod, batchv1.JobIndexIgnoredFailureCountAnnotation)
}
