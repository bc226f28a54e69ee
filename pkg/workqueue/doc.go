// Package workqueue is a reliable, lease-based work queue on a Redis list,
// for Jobs whose pods share a finite list of work items.
//
// Producers append items to a list (RPUSH, or Queue.Add). A worker leases an
// item: it is moved atomically from the list to a processing list and a
// lease key with an expiry is set for it. When done, the worker completes
// the item, removing it and its lease. A worker that dies stops renewing its
// lease; once the lease expires, any worker moves the item back to the list
// (Reclaim, also run by Lease) and it is processed again. So every item is
// processed, and none twice unless a lease expired first.
//
// Keys used for a queue named "job2":
//
//	job2                   the list of items waiting (consumed from the left)
//	job2:processing        items leased or being leased
//	job2:lease:<sha1(item)> the lease, holding the session ID of its worker
//
// Identical items share a lease key, so they are processed one at a time.
// The scripts touch keys they compute, so the queue needs a single Redis
// server (or one shard), Redis 6.2 or later.
//
// A typical worker:
//
//	q := workqueue.New(resp.NewClient(resp.Options{Addr: "redis:6379"}), "job2", workqueue.Options{})
//	for {
//		empty, err := q.Empty(ctx)
//		if err != nil || empty {
//			break
//		}
//		item, err := q.Lease(ctx, 10*time.Second, 2*time.Second)
//		if err != nil || item == nil {
//			continue
//		}
//		process(item)
//		err = q.Complete(ctx, item)
//	}
package workqueue
