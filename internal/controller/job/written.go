package job

import (
	"strconv"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
)

// writtenJobs remembers the last status this controller wrote for each
// Job. The Job informer may not have delivered that write when the pod
// informer already shows its effects (finalizers gone), and a sync built
// on the older Job would then miss counted pods and create extras.
type writtenJobs struct {
	mu sync.Mutex
	m  map[string]*batchv1.Job
}

func newWrittenJobs() *writtenJobs {
	return &writtenJobs{m: map[string]*batchv1.Job{}}
}

// record keeps a copy of a Job as the server returned it from a write.
func (w *writtenJobs) record(key string, job *batchv1.Job) {
	if _, ok := parseRV(job.ResourceVersion); !ok {
		return
	}
	c := job.DeepCopy()
	w.mu.Lock()
	w.m[key] = c
	w.mu.Unlock()
}

// freshest returns the newer of the listed Job and the one last written.
// Once the informer has caught up the record is dropped.
func (w *writtenJobs) freshest(key string, listed *batchv1.Job) *batchv1.Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	written := w.m[key]
	if written == nil {
		return listed
	}
	if written.UID == listed.UID && resourceVersionOlder(listed.ResourceVersion, written.ResourceVersion) {
		return written
	}
	delete(w.m, key)
	return listed
}

func (w *writtenJobs) forget(key string) {
	w.mu.Lock()
	delete(w.m, key)
	w.mu.Unlock()
}

// resourceVersionOlder compares versions as the integers this server
// issues (etcd revisions); unparsable versions are never called older.
func resourceVersionOlder(a, b string) bool {
	x, ok1 := parseRV(a)
	y, ok2 := parseRV(b)
	return ok1 && ok2 && x < y
}

func parseRV(rv string) (uint64, bool) {
	n, err := strconv.ParseUint(rv, 10, 64)
	return n, err == nil
}
