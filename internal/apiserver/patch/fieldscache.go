package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// genCache is a bounded map for values that are cheap to recompute but
// repeat a lot (the managedFields of the pods of one Job are byte-equal):
// when the current generation is full it becomes the old one and the
// previous old one is dropped; a hit in the old generation is promoted.
type genCache[K comparable, V any] struct {
	mu       sync.Mutex
	cur, old map[K]V
	max      int
}

func newGenCache[K comparable, V any](max int) *genCache[K, V] {
	return &genCache[K, V]{cur: map[K]V{}, max: max}
}

func (c *genCache[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.old[k]
	if ok {
		c.putLocked(k, v)
	}
	return v, ok
}

func (c *genCache[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, v)
}

func (c *genCache[K, V]) putLocked(k K, v V) {
	if len(c.cur) >= c.max {
		c.old, c.cur = c.cur, make(map[K]V, len(c.cur))
	}
	c.cur[k] = v
}

// getBytes is get for string-keyed caches without converting b to a
// string (the compiler elides the copy in a map index).
func getBytes[V any](c *genCache[string, V], b []byte) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[string(b)]; ok {
		return v, true
	}
	v, ok := c.old[string(b)]
	if ok {
		c.putLocked(string(b), v)
	}
	return v, ok
}

// decodedFields is one FieldsV1 blob parsed into a set and reconciled with
// the kind's schema, as the field manager does with every entry before
// each update, and the set's own encoding. The set is shared by every
// request that meets the blob: fieldpath's set algebra returns new sets
// and never modifies its operands, and nothing here inserts into it.
type decodedFields struct {
	set       *fieldpath.Set
	canonical []byte // set.ToJSON(): what an unchanged entry is written as
	err       error  // the blob does not parse
	errRec    error  // the set does not reconcile with the schema
}

// emptyFieldsJSON stands for an entry without fieldsV1, as upstream.
var emptyFieldsJSON = []byte("{}")

// fieldsCaches holds per kind the decoded FieldsV1 blobs, keyed by their
// bytes.
var fieldsCaches sync.Map // schema.GroupVersionKind -> *genCache[string, *decodedFields]

const fieldsCacheSize = 512

// decodeFields parses raw (nil for an entry without fieldsV1) and
// reconciles it with schema of gvk, whose typed zero value is zero.
func decodeFields(gvk schema.GroupVersionKind, zero *typed.TypedValue, raw []byte) *decodedFields {
	if raw == nil {
		raw = emptyFieldsJSON
	}
	c, ok := fieldsCaches.Load(gvk)
	if !ok {
		c, _ = fieldsCaches.LoadOrStore(gvk, newGenCache[string, *decodedFields](fieldsCacheSize))
	}
	cache := c.(*genCache[string, *decodedFields])
	if d, ok := getBytes(cache, raw); ok {
		return d
	}
	d := &decodedFields{}
	set := &fieldpath.Set{}
	if err := set.FromJSON(bytes.NewReader(raw)); err != nil {
		d.err = err
	} else {
		// Reconciling reads only the schema, not the value, so the zero
		// object stands for the live one.
		rec, err := typed.ReconcileFieldSetWithSchema(set, zero)
		switch {
		case err != nil:
			d.errRec = err
		case rec != nil:
			set = rec
		}
		d.set = set
		if d.canonical, err = set.ToJSON(); err != nil {
			d.canonical = nil
		}
	}
	cache.put(string(raw), d)
	return d
}

// managerID is a managedFields entry's identity: the JSON that upstream
// keys its managers by (it orders the oldest update managers by it, and
// an entry is written back from it), and the entry it decodes to.
type managerID struct {
	key   string
	entry metav1.ManagedFieldsEntry // Manager, Operation, APIVersion (updates), Subresource
}

type managerIDKey struct {
	manager     string
	operation   metav1.ManagedFieldsOperationType
	apiVersion  string
	subresource string
}

var managerIDs = newGenCache[managerIDKey, *managerID](1024)

// identify returns the identity of an entry; an Apply entry's does not
// include its version.
func identify(manager string, op metav1.ManagedFieldsOperationType, apiVersion, subresource string) (*managerID, error) {
	if op == metav1.ManagedFieldsOperationApply {
		apiVersion = ""
	}
	k := managerIDKey{manager, op, apiVersion, subresource}
	if id, ok := managerIDs.get(k); ok {
		return id, nil
	}
	e := metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: apiVersion, Subresource: subresource}
	b, err := json.Marshal(&e)
	if err != nil {
		return nil, fmt.Errorf("manager identifier of %q: %w", manager, err)
	}
	id := &managerID{key: string(b)}
	// Invalid UTF-8 in the names comes back replaced, as upstream writes
	// the entry back from this JSON.
	if err := json.Unmarshal(b, &id.entry); err != nil {
		return nil, fmt.Errorf("manager identifier %s: %w", b, err)
	}
	managerIDs.put(k, id)
	return id, nil
}

// encodedKey files the encodings of sets derived from one decoded entry
// (nil: from the comparison alone) by size. Within such a family, equal
// sets are made of the same path elements (keys come from the typed
// objects' fields or from the entry's bytes), so they encode alike; sets
// of different families may hold equal keys spelled differently (1 and
// 1.0) and are never matched.
type encodedKey struct {
	from *decodedFields
	size int
}

type encodedSet struct {
	set *fieldpath.Set
	raw []byte
}

var encodedSets = newGenCache[encodedKey, []encodedSet](1024)

// encodedPerKey bounds the sets compared under one key.
const encodedPerKey = 4

// encodeSet returns set.ToJSON(), or the bytes of an equal set of its
// family encoded before. The result is the caller's own.
func encodeSet(set *fieldpath.Set, from *decodedFields) ([]byte, error) {
	k := encodedKey{from: from, size: set.Size()}
	cached, _ := encodedSets.get(k)
	for _, e := range cached {
		if e.set.Equals(set) {
			return slices.Clone(e.raw), nil
		}
	}
	raw, err := set.ToJSON()
	if err != nil {
		return nil, err
	}
	if len(cached) >= encodedPerKey {
		cached = cached[1:]
	}
	encodedSets.put(k, append(slices.Clip(cached), encodedSet{set: set, raw: raw}))
	return slices.Clone(raw), nil
}
