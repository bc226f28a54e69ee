// Package storage keeps API objects in etcd v3. Keys follow
// /registry/<group>/<resource>/<namespace>/<name>; an object's
// resourceVersion is the etcd mod revision of its key.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// Interface is what the apiserver needs from a store. Objects passed in and
// returned are typed API objects (k8s.io/api types); the store sets their
// resourceVersion from the etcd revision and never keeps a reference to them.
type Interface interface {
	// Create stores obj under key. It fails with an ErrKeyExists error when
	// the key is taken. The returned object carries the new resourceVersion.
	Create(ctx context.Context, key string, obj runtime.Object) (runtime.Object, error)

	// Get returns the object at key, or an ErrKeyNotFound error.
	Get(ctx context.Context, key string) (runtime.Object, error)

	// GuaranteedUpdate reads the object at key, passes a private copy to
	// tryUpdate and writes the result with compare-and-swap on the mod
	// revision it read. On a lost race it re-reads and calls tryUpdate again,
	// so tryUpdate must be a pure function of its input. If tryUpdate returns
	// an error the update stops and that error is returned unchanged. If the
	// returned object is semantically equal to the current one nothing is
	// written and the current object is returned. The object tryUpdate
	// returns becomes the store's: it may be modified and returned.
	GuaranteedUpdate(ctx context.Context, key string, preconditions *Preconditions, tryUpdate UpdateFunc) (runtime.Object, error)

	// Delete removes the object at key if preconditions hold and validate
	// (when non-nil) accepts the current object; both are re-checked on a
	// lost race. It returns the object as it was just before deletion.
	Delete(ctx context.Context, key string, preconditions *Preconditions, validate func(current runtime.Object) error) (runtime.Object, error)

	// List returns the objects whose keys start with prefix (which must end
	// in "/"), at one consistent revision.
	List(ctx context.Context, prefix string, opts ListOptions) (*ListResult, error)

	// Watch streams changes to keys under prefix that happen after revision
	// opts.Revision (0 means "from now").
	Watch(ctx context.Context, prefix string, opts WatchOptions) (Watcher, error)

	// CurrentRevision is the store's latest revision.
	CurrentRevision(ctx context.Context) (int64, error)
}

// Cached is a key's value as a cache of the store's watch holds it: the
// object (shared, never modified), its stored bytes and mod revision.
type Cached struct {
	Object   runtime.Object
	Value    []byte
	Revision int64
}

// CachedUpdater is a store whose GuaranteedUpdate can start from a cached
// value instead of reading the key: the compare-and-swap on the cached
// revision catches a stale one, which costs a retry.
type CachedUpdater interface {
	GuaranteedUpdateFrom(ctx context.Context, key string, cached Cached, preconditions *Preconditions, tryUpdate UpdateFunc) (runtime.Object, error)
}

// UpdateFunc computes the new object from the current one.
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// Preconditions must hold on the current object for an update or delete.
type Preconditions struct {
	UID             *types.UID
	ResourceVersion *string
}

// ListOptions selects what List returns.
type ListOptions struct {
	// ResourceVersion: "" = most recent (consistent read); "0" = any
	// (served as most recent); otherwise a revision, interpreted per
	// ResourceVersionMatch ("" or "NotOlderThan": at least that revision,
	// "Exact": exactly that revision; a compacted one is ErrExpired).
	ResourceVersion      string
	ResourceVersionMatch string
	// Limit caps the number of matching items (0 = no limit); Continue is
	// the token from a previous page.
	Limit    int64
	Continue string
	// Predicate, when set, filters items before Limit is applied.
	Predicate func(obj runtime.Object) bool
}

// ListResult is one page of a list.
type ListResult struct {
	Items              []runtime.Object
	ResourceVersion    int64
	Continue           string
	RemainingItemCount *int64
}

// WatchOptions selects where a watch starts.
type WatchOptions struct {
	// Revision: events with a mod revision greater than this are sent.
	// 0 starts at the current revision.
	Revision int64
}

// Event is one change seen by a watch. PrevObject is the object before the
// change (nil for Added); for Deleted, Object is the last state with the
// resourceVersion set to the deletion revision. Consumers may share an
// event's objects, so they are never modified once delivered.
type Event struct {
	Type       watch.EventType
	Object     runtime.Object
	PrevObject runtime.Object
	Revision   int64
	// Err is set on a terminal error event (Type watch.Error): an ErrExpired
	// when the start revision was compacted, or another failure.
	Err error

	// Key is the changed object's storage key; empty from stores that do
	// not report it.
	Key string
	// PrevRevision is the mod revision of the previous value (the
	// resourceVersion of PrevObject); 0 when the event has none.
	PrevRevision int64
	// Value is Object as stored, for Added and Modified events of stores
	// that report it (etcd3's); never modified.
	Value []byte
	// LoadPrev decodes the previous value. Only watches that a consumer
	// asks to defer that decoding set it (etcd3's WatchDeferPrev); Watch
	// never does. While it is set, PrevObject is nil and so is a Deleted
	// event's Object: CompletePrev fills them in.
	LoadPrev func() (runtime.Object, error)
}

// CompletePrev fills in what a deferred event left out: PrevObject and,
// for Deleted, Object (a copy of the previous value at the deletion
// revision). known, when non-nil, is an object the caller holds for Key at
// exactly PrevRevision; etcd stores one value per key and revision, so it
// is that value and is used as it is, without decoding. It is shared from
// then on, like any delivered object. Events without LoadPrev are left
// alone.
func (e *Event) CompletePrev(known runtime.Object) error {
	if e.LoadPrev == nil {
		return nil
	}
	prev := known
	if prev == nil {
		var err error
		if prev, err = e.LoadPrev(); err != nil {
			return err
		}
	}
	if e.Type == watch.Deleted {
		// A copy costs a fraction of a second decode.
		obj := prev.DeepCopyObject()
		acc, err := meta.Accessor(obj)
		if err != nil {
			return fmt.Errorf("deleted object %s: %w", e.Key, err)
		}
		acc.SetResourceVersion(strconv.FormatInt(e.Revision, 10))
		e.Object = obj
	}
	e.PrevObject, e.LoadPrev = prev, nil
	return nil
}

// Watcher is a running watch. The channel is closed when the watch ends.
type Watcher interface {
	ResultChan() <-chan Event
	Stop()
}

// ErrorCode classifies storage errors so the apiserver can map them to
// Kubernetes Status responses.
type ErrorCode int

const (
	ErrCodeKeyNotFound ErrorCode = iota + 1
	ErrCodeKeyExists
	ErrCodeConflict // resourceVersion or UID precondition failed
	ErrCodeExpired  // requested revision was compacted (410 Gone)
	ErrCodeInvalidContinue
	ErrCodeTooLargeResourceVersion
)

// Error is a classified storage error.
type Error struct {
	Code    ErrorCode
	Key     string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("storage: %s (key %q)", e.Message, e.Key)
}

// NewError builds a classified error.
func NewError(code ErrorCode, key, format string, args ...any) *Error {
	return &Error{Code: code, Key: key, Message: fmt.Sprintf(format, args...)}
}

// HasCode reports whether err (or an error it wraps) is a storage error
// with the given code.
func HasCode(err error, code ErrorCode) bool {
	var se *Error
	return errors.As(err, &se) && se.Code == code
}

func IsNotFound(err error) bool { return HasCode(err, ErrCodeKeyNotFound) }
func IsExists(err error) bool   { return HasCode(err, ErrCodeKeyExists) }
func IsConflict(err error) bool { return HasCode(err, ErrCodeConflict) }
func IsExpired(err error) bool  { return HasCode(err, ErrCodeExpired) }

// LocalGetter is implemented by stores that can read a key from the
// serving member's applied state without a quorum round. The value may
// trail writes still in flight elsewhere in the cluster; it suits checks
// that upstream answers from informer caches.
type LocalGetter interface {
	GetLocal(ctx context.Context, key string) (runtime.Object, error)
}
