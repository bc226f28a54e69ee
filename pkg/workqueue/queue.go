package workqueue

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/batchlet/batchlet/pkg/workqueue/resp"
)

// ErrLeaseLost is returned by Complete and Renew when the caller no longer
// holds the item's lease: it expired and the item was reclaimed or leased
// by another worker, which will process it again.
var ErrLeaseLost = errors.New("workqueue: lease lost")

// Options tunes a Queue. The zero value works.
type Options struct {
	// SessionID identifies this worker in lease keys; random if empty.
	SessionID string
	// ReclaimInterval is how often Lease looks for expired leases while
	// items are still waiting, and how long one blocking wait lasts before
	// looking again when none are; 1s if zero.
	ReclaimInterval time.Duration
}

// Queue is one worker's handle on a named queue. It is safe for concurrent
// use, but its commands share the client's single connection.
type Queue struct {
	client      *resp.Client
	name        string
	processing  string
	leasePrefix string
	session     string
	interval    time.Duration

	mu          sync.Mutex
	lastReclaim time.Time
}

// New returns a handle on the queue whose waiting items are in the Redis
// list name.
func New(client *resp.Client, name string, opts Options) *Queue {
	if opts.SessionID == "" {
		opts.SessionID = newSessionID()
	}
	if opts.ReclaimInterval <= 0 {
		opts.ReclaimInterval = time.Second
	}
	return &Queue{
		client:      client,
		name:        name,
		processing:  name + ":processing",
		leasePrefix: name + ":lease:",
		session:     opts.SessionID,
		interval:    opts.ReclaimInterval,
	}
}

// SessionID returns the ID this worker's leases carry.
func (q *Queue) SessionID() string { return q.session }

// Name returns the name of the queue's main list.
func (q *Queue) Name() string { return q.name }

// Add appends items to the queue and returns its new length.
func (q *Queue) Add(ctx context.Context, items ...[]byte) (int64, error) {
	if len(items) == 0 {
		return q.Len(ctx)
	}
	args := make([]any, 0, 2+len(items))
	args = append(args, "RPUSH", q.name)
	for _, it := range items {
		args = append(args, it)
	}
	v, err := q.client.Do(ctx, args...)
	if err != nil {
		return 0, q.wrap("add", err)
	}
	return v.Int, nil
}

// Len returns the number of items waiting or being processed.
func (q *Queue) Len(ctx context.Context) (int64, error) {
	v, err := lengthScript.Run(ctx, q.client, []string{q.name, q.processing})
	if err != nil {
		return 0, q.wrap("length", err)
	}
	return v.Int, nil
}

// Empty reports whether no item is waiting and none is being processed. A
// finite queue is done when it is empty; while an item is leased it is not,
// because that item comes back if its worker dies.
func (q *Queue) Empty(ctx context.Context) (bool, error) {
	n, err := q.Len(ctx)
	return n == 0, err
}

// Lease takes the oldest waiting item and leases it to this worker for
// lease. If none is waiting it waits up to block for one, reclaiming
// expired leases meanwhile, and returns nil, nil if none came.
func (q *Queue) Lease(ctx context.Context, lease, block time.Duration) ([]byte, error) {
	ms := lease.Milliseconds()
	if ms <= 0 {
		return nil, fmt.Errorf("workqueue %s: lease duration %v is not positive", q.name, lease)
	}
	deadline := time.Now().Add(block)
	for {
		if err := q.reclaimIfDue(ctx); err != nil {
			return nil, err
		}
		item, leased, err := q.tryLease(ctx, ms)
		if err != nil {
			return nil, err
		}
		if leased {
			return item, nil
		}
		if item != nil {
			continue // an identical item is in flight; this copy waits its turn
		}
		n, err := q.Reclaim(ctx)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			continue
		}
		wait := min(time.Until(deadline), q.interval)
		if wait < time.Millisecond {
			return nil, nil
		}
		item, err = q.waitAndClaim(ctx, wait, ms)
		if err != nil || item != nil {
			return item, err
		}
	}
}

func (q *Queue) tryLease(ctx context.Context, ms int64) (item []byte, leased bool, err error) {
	v, err := leaseScript.Run(ctx, q.client, []string{q.name, q.processing}, q.leasePrefix, q.session, ms)
	if err != nil {
		return nil, false, q.wrap("lease", err)
	}
	if v.IsNull() {
		return nil, false, nil
	}
	if len(v.Elems) != 2 {
		return nil, false, q.wrap("lease", fmt.Errorf("unexpected reply %v", v.Kind))
	}
	return v.Elems[1].Str, v.Elems[0].Int == 1, nil
}

// waitAndClaim blocks on the main list for up to wait, then leases the item
// it moved. It returns nil if none came or the item was taken meanwhile.
func (q *Queue) waitAndClaim(ctx context.Context, wait time.Duration, ms int64) ([]byte, error) {
	secs := strconv.FormatFloat(wait.Seconds(), 'f', 3, 64)
	v, err := q.client.DoBlocking(ctx, wait, "BLMOVE", q.name, q.processing, "LEFT", "RIGHT", secs)
	if err != nil {
		return nil, q.wrap("wait for an item", err)
	}
	if v.IsNull() {
		return nil, nil
	}
	item := v.Str
	c, err := claimScript.Run(ctx, q.client, []string{q.processing, q.leaseKey(item)}, item, q.session, ms)
	if err != nil {
		return nil, q.wrap("lease", err)
	}
	if c.Int != 1 {
		return nil, nil
	}
	return item, nil
}

// Complete removes a processed item and its lease. It returns ErrLeaseLost
// if the lease had expired and the item was taken back meanwhile.
func (q *Queue) Complete(ctx context.Context, item []byte) error {
	v, err := completeScript.Run(ctx, q.client, []string{q.processing, q.leaseKey(item)}, item, q.session)
	if err != nil {
		return q.wrap("complete", err)
	}
	if v.Int != 1 {
		return ErrLeaseLost
	}
	return nil
}

// Renew extends this worker's lease on item to lease from now, for work that
// takes longer than one lease. It returns ErrLeaseLost if another worker
// holds the item now.
func (q *Queue) Renew(ctx context.Context, item []byte, lease time.Duration) error {
	ms := lease.Milliseconds()
	if ms <= 0 {
		return fmt.Errorf("workqueue %s: lease duration %v is not positive", q.name, lease)
	}
	v, err := renewScript.Run(ctx, q.client, []string{q.processing, q.leaseKey(item)}, item, q.session, ms)
	if err != nil {
		return q.wrap("renew", err)
	}
	if v.Int != 1 {
		return ErrLeaseLost
	}
	return nil
}

// Reclaim moves items whose lease expired back to the front of the queue and
// returns how many it moved. Lease calls it; call it directly only to
// recover items without leasing.
func (q *Queue) Reclaim(ctx context.Context) (int, error) {
	q.mu.Lock()
	q.lastReclaim = time.Now()
	q.mu.Unlock()
	v, err := reclaimScript.Run(ctx, q.client, []string{q.name, q.processing}, q.leasePrefix)
	if err != nil {
		return 0, q.wrap("reclaim", err)
	}
	return int(v.Int), nil
}

func (q *Queue) reclaimIfDue(ctx context.Context) error {
	q.mu.Lock()
	due := time.Since(q.lastReclaim) >= q.interval
	q.mu.Unlock()
	if !due {
		return nil
	}
	_, err := q.Reclaim(ctx)
	return err
}

func (q *Queue) leaseKey(item []byte) string {
	sum := sha1.Sum(item)
	return q.leasePrefix + hex.EncodeToString(sum[:])
}

func (q *Queue) wrap(op string, err error) error {
	return fmt.Errorf("workqueue %s: %s: %w", q.name, op, err)
}

// newSessionID returns a random UUID (version 4) string.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
