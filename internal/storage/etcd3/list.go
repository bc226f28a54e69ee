package etcd3

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/batchlet/batchlet/internal/storage"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
)

// Messages Kubernetes returns for lists that cannot be served.
const (
	inconsistentContinueMessage = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
	listTooOldMessage           = "The resourceVersion for the provided list is too old."
)

// listPlan is where a list reads: the key range and the revision (0 means
// the current one, fixed by the first read).
type listPlan struct {
	prefix     string
	start, end string
	rev        int64
	minRev     int64 // NotOlderThan: the current revision must reach this
	continuing bool
}

func (s *store) List(ctx context.Context, prefix string, opts storage.ListOptions) (*storage.ListResult, error) {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if err := checkKey(prefix); err != nil {
		return nil, err
	}
	plan, err := planList(prefix, opts)
	if err != nil {
		return nil, err
	}
	res, err := s.readList(ctx, plan, opts)
	if err != nil {
		return nil, s.listError(ctx, plan, err)
	}
	if plan.minRev > res.ResourceVersion {
		return nil, storage.NewError(storage.ErrCodeTooLargeResourceVersion, prefix,
			"Too large resource version: %d, current: %d", plan.minRev, res.ResourceVersion)
	}
	return res, nil
}

func planList(prefix string, opts storage.ListOptions) (listPlan, error) {
	plan := listPlan{prefix: prefix, start: prefix, end: clientv3.GetPrefixRangeEnd(prefix)}
	if opts.Continue != "" {
		if opts.ResourceVersion != "" && opts.ResourceVersion != "0" {
			return plan, storage.NewError(storage.ErrCodeInvalidContinue, prefix,
				"specifying resource version is not allowed when using continue")
		}
		start, rev, err := decodeContinue(opts.Continue, prefix)
		if err != nil {
			return plan, err
		}
		plan.start, plan.rev, plan.continuing = start, rev, true
		return plan, nil
	}
	if opts.ResourceVersion == "" || opts.ResourceVersion == "0" {
		return plan, nil
	}
	rv, err := strconv.ParseInt(opts.ResourceVersion, 10, 64)
	if err != nil || rv < 0 {
		return plan, fmt.Errorf("invalid resource version %q", opts.ResourceVersion)
	}
	switch opts.ResourceVersionMatch {
	case "", "NotOlderThan":
		plan.minRev = rv
	case "Exact":
		plan.rev = rv
	default:
		return plan, fmt.Errorf("unknown resourceVersionMatch %q", opts.ResourceVersionMatch)
	}
	return plan, nil
}

// readList reads pages of keys at one revision until it has Limit matching
// items or reaches the end of the range.
func (s *store) readList(ctx context.Context, plan listPlan, opts storage.ListOptions) (*storage.ListResult, error) {
	limit := max(opts.Limit, 0)
	batch := limit
	if opts.Predicate != nil {
		// Filtering may drop most keys; read in larger steps.
		batch = max(limit, s.listBatch)
	}
	res := &storage.ListResult{Items: []runtime.Object{}}
	rev := plan.rev
	start := plan.start
	for {
		ops := []clientv3.OpOption{clientv3.WithRange(plan.end)}
		if rev > 0 {
			ops = append(ops, clientv3.WithRev(rev))
		}
		if batch > 0 {
			ops = append(ops, clientv3.WithLimit(batch))
		}
		resp, err := s.client.Get(ctx, start, ops...)
		if err != nil {
			return nil, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		res.ResourceVersion = rev
		for i, kv := range resp.Kvs {
			obj, err := s.codec.decode(kv.Value, kv.ModRevision)
			if err != nil {
				return nil, fmt.Errorf("listing %s: key %s: %w", plan.prefix, kv.Key, err)
			}
			if opts.Predicate != nil && !opts.Predicate(obj) {
				continue
			}
			res.Items = append(res.Items, obj)
			if limit > 0 && int64(len(res.Items)) == limit {
				if i < len(resp.Kvs)-1 || resp.More {
					if err := setContinue(res, plan, string(kv.Key), rev); err != nil {
						return nil, err
					}
					if opts.Predicate == nil {
						remaining := resp.Count - int64(i+1)
						res.RemainingItemCount = &remaining
					}
				}
				return res, nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return res, nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// setContinue makes the page resume just after lastKey.
func setContinue(res *storage.ListResult, plan listPlan, lastKey string, rev int64) error {
	token, err := encodeContinue(lastKey+"\x00", plan.prefix, rev)
	if err != nil {
		return err
	}
	res.Continue = token
	return nil
}

// listError classifies etcd's refusals of a read at a revision.
func (s *store) listError(ctx context.Context, plan listPlan, err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrCompacted) && plan.continuing:
		return storage.NewError(storage.ErrCodeExpired, plan.prefix, "%s", inconsistentContinueMessage)
	case errors.Is(err, rpctypes.ErrCompacted):
		return storage.NewError(storage.ErrCodeExpired, plan.prefix, "%s", listTooOldMessage)
	case errors.Is(err, rpctypes.ErrFutureRev):
		cur, _ := s.CurrentRevision(ctx)
		return storage.NewError(storage.ErrCodeTooLargeResourceVersion, plan.prefix,
			"Too large resource version: %d, current: %d", plan.rev, cur)
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	return fmt.Errorf("listing %s: %w", plan.prefix, err)
}
