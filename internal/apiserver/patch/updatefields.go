package patch

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// This file records an Update operation the way apimachinery's default
// field manager does (decode, reconcile with the schema, compare, take
// the changed fields from the other managers, strip metadata, merge with
// the manager's previous entry, cap the update managers, encode), without
// its per-request JSON parsing and writing of every entry: decoded entries
// are cached by their bytes and an entry the update leaves alone is
// written back from the cache. It handles objects whose entries are all
// at the kind's version, which need no conversion; the others go through
// the field manager itself.

// maxUpdateManagers is upstream's cap on the Update entries; the oldest
// beyond it are merged into one "ancient-changes" entry per version.
const maxUpdateManagers = 10

// stripSet are the fields never recorded as managed.
var stripSet = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)

// managedFieldsSet is where the live object's entries are; the new
// object's are cleared before the comparison, so a live object with
// entries has them removed.
var managedFieldsSet = fieldpath.NewSet(fieldpath.MakePathOrDie("metadata", "managedFields"))

// ownership is one manager's entry while an update is recorded.
type ownership struct {
	id      *managerID
	set     *fieldpath.Set
	version string
	applied bool
	// origin is the decoded entry set derives from (nil: from the
	// comparison alone), unchanged whether it is that entry's set, mixed
	// whether it joins several entries (see encodedKey).
	origin    *decodedFields
	unchanged bool
	mixed     bool
}

// ownerships are the entries of an object by identity, with their times.
type ownerships struct {
	sets  map[string]*ownership
	times map[string]*metav1.Time
}

// decodeEntries decodes entries as DecodeManagedFields does; ok is false
// when upstream fails to (the whole list is then ignored).
func decodeEntries(gvk schema.GroupVersionKind, zero *typed.TypedValue, entries []metav1.ManagedFieldsEntry) (m ownerships, ok bool) {
	m = ownerships{sets: make(map[string]*ownership, len(entries)+1), times: make(map[string]*metav1.Time, len(entries)+1)}
	for i := range entries {
		e := &entries[i]
		if e.Operation != metav1.ManagedFieldsOperationApply && e.Operation != metav1.ManagedFieldsOperationUpdate {
			return m, false
		}
		if e.APIVersion == "" || e.FieldsType != "FieldsV1" {
			return m, false
		}
		id, err := identify(e.Manager, e.Operation, e.APIVersion, e.Subresource)
		if err != nil {
			return m, false
		}
		var raw []byte
		if e.FieldsV1 != nil {
			raw = e.FieldsV1.Raw
		}
		d := decodeFields(gvk, zero, raw)
		if d.err != nil {
			return m, false
		}
		m.sets[id.key] = &ownership{id: id, set: d.set, version: e.APIVersion, applied: e.Operation == metav1.ManagedFieldsOperationApply,
			origin: d, unchanged: true}
		m.times[id.key] = e.Time
	}
	return m, true
}

// isReset tells whether a client asks to drop every entry: an empty
// non-nil list or a single empty entry.
func isReset(entries []metav1.ManagedFieldsEntry) bool {
	switch len(entries) {
	case 0:
		return entries != nil
	case 1:
		e := entries[0]
		return e.Manager == "" && e.Operation == "" && e.APIVersion == "" && e.Time == nil &&
			e.FieldsType == "" && e.FieldsV1 == nil && e.Subresource == ""
	}
	return false
}

// fastUpdate records the update of old (nil on create) to newObj, both of
// gvk's Go type with their kind set, whose entries are all at gvk's
// version. It sets newObj's managedFields and returns it.
func fastUpdate(old, newObj runtime.Object, gvk schema.GroupVersionKind, manager, subresource string) (runtime.Object, error) {
	conv := &updateConverter{base: typeConverter()}
	zero, err := conv.zeroTyped(gvk)
	if err != nil {
		return nil, fmt.Errorf("schema of %v: %w", gvk, err)
	}
	newAcc, err := meta.Accessor(newObj)
	if err != nil {
		return nil, err
	}
	var liveEntries []metav1.ManagedFieldsEntry
	var liveUID string
	if old != nil {
		oldAcc, err := meta.Accessor(old)
		if err != nil {
			return nil, err
		}
		liveEntries, liveUID = oldAcc.GetManagedFields(), string(oldAcc.GetUID())
	}

	// The entries to start from: the live object's for a subresource,
	// else the request's unless it has none or they do not decode.
	var m ownerships
	fromLive := func() ownerships {
		m, ok := decodeEntries(gvk, zero, liveEntries)
		if !ok {
			m = ownerships{sets: map[string]*ownership{}, times: map[string]*metav1.Time{}}
		}
		return m
	}
	switch requested := newAcc.GetManagedFields(); {
	case subresource != "":
		m = fromLive()
	case isReset(requested):
		m = ownerships{sets: map[string]*ownership{}, times: map[string]*metav1.Time{}}
	default:
		var ok bool
		if m, ok = decodeEntries(gvk, zero, requested); !ok || len(m.sets) == 0 {
			m = fromLive()
		}
	}

	// An object that exists and has no entries stays without: tracking
	// starts on create (or with the first apply).
	if len(m.sets) == 0 && liveUID != "" {
		newAcc.SetManagedFields(nil)
		return newObj, nil
	}

	for _, o := range m.sets {
		if o.origin.errRec != nil {
			return nil, updateError(newObj, o.origin.errRec)
		}
	}

	changes, err := compareForUpdate(conv, old, newObj, gvk)
	if err != nil {
		return nil, updateError(newObj, fmt.Errorf("failed to compare objects: %v", err))
	}
	if len(liveEntries) > 0 {
		changes.Removed = changes.Removed.Union(managedFieldsSet)
	}

	// The fields this update set are taken from everyone else; removed
	// ones are forgotten.
	changed := changes.Modified.Union(changes.Added)
	for k, o := range m.sets {
		if lost := o.set.Intersection(changed); !lost.Empty() {
			o.set, o.unchanged = o.set.Difference(lost), false
		}
		if !changes.Removed.Empty() && !o.set.Intersection(changes.Removed).Empty() {
			o.set, o.unchanged = o.set.Difference(changes.Removed), false
		}
		if o.set.Empty() {
			delete(m.sets, k)
		}
	}

	// What this update set, but metadata, joins the manager's entry and
	// dates it.
	version := gvk.GroupVersion().String()
	id, err := identify(manager, metav1.ManagedFieldsOperationUpdate, version, subresource)
	if err != nil {
		return nil, fmt.Errorf("failed to build manager identifier: %v", err)
	}
	if mine := changed.Difference(stripSet); !mine.Empty() {
		o := &ownership{id: id, version: version}
		if prev, ok := m.sets[id.key]; ok {
			mine = mine.Union(prev.set)
			o.origin, o.mixed = prev.origin, prev.mixed
		}
		o.set = mine
		m.sets[id.key] = o
		m.times[id.key] = &metav1.Time{Time: time.Now().UTC()}
	}

	if err := capUpdateManagers(m); err != nil {
		return nil, fmt.Errorf("failed to cap update managers: %v", err)
	}
	entries, err := encodeEntries(m)
	if err != nil {
		return nil, fmt.Errorf("failed to encode managed fields: %v", err)
	}
	newAcc.SetManagedFields(entries)
	return newObj, nil
}

// updateError words a failure as the field manager does.
func updateError(obj runtime.Object, err error) error {
	name, namespace := "<unknown>", "<unknown>"
	if acc, aerr := meta.Accessor(obj); aerr == nil {
		name, namespace = acc.GetName(), acc.GetNamespace()
	}
	return fmt.Errorf("failed to update ManagedFields (%v/%v; %v): %v", namespace, name, obj.GetObjectKind().GroupVersionKind(), err)
}

// compareForUpdate compares old (nil on create) with newObj without
// their managedFields (the caller accounts for those) and without the
// fields equal in both. newObj's managedFields are cleared on create.
func compareForUpdate(conv *updateConverter, old, newObj runtime.Object, gvk schema.GroupVersionKind) (*typed.Comparison, error) {
	var live, changed runtime.Object
	if old == nil {
		zero, err := newZero(gvk)
		if err != nil {
			return nil, err
		}
		live, changed = zero, newObj
		acc, err := meta.Accessor(newObj)
		if err != nil {
			return nil, err
		}
		acc.SetManagedFields(nil)
	} else {
		var pruned bool
		live, changed, pruned = withoutEqualFields(old, newObj)
		if !pruned {
			return nil, fmt.Errorf("objects of %v are not structs of one type", gvk)
		}
		for _, obj := range []runtime.Object{live, changed} {
			acc, err := meta.Accessor(obj)
			if err != nil {
				return nil, err
			}
			acc.SetManagedFields(nil)
		}
	}
	lt, err := conv.ObjectToTyped(live, typed.AllowDuplicates)
	if err != nil {
		return nil, err
	}
	nt, err := conv.ObjectToTyped(changed, typed.AllowDuplicates)
	if err != nil {
		return nil, err
	}
	return lt.Compare(nt)
}

// capUpdateManagers merges, as upstream, the oldest Update entries beyond
// maxUpdateManagers into an "ancient-changes" entry per version.
func capUpdateManagers(m ownerships) error {
	var updaters []string
	for k, o := range m.sets {
		if !o.applied {
			updaters = append(updaters, k)
		}
	}
	if len(updaters) <= maxUpdateManagers {
		return nil
	}
	seconds := func(k string) int64 {
		if t := m.times[k]; t != nil {
			return t.Unix()
		}
		return 0
	}
	slices.SortFunc(updaters, func(a, b string) int {
		if c := cmp.Compare(seconds(a), seconds(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	firstOfVersion := map[string]string{}
	for i, n := 0, len(updaters); i < len(updaters) && n > maxUpdateManagers; i++ {
		k := updaters[i]
		o, t := m.sets[k], m.times[k]
		bucket, err := identify("ancient-changes", metav1.ManagedFieldsOperationUpdate, o.version, "")
		if err != nil {
			return err
		}
		first, seen := firstOfVersion[o.version]
		if !seen {
			firstOfVersion[o.version] = k
			continue
		}
		// The version's oldest entry becomes the bucket the others of
		// that version join (upstream's order of operations, kept even
		// where it drops a bucket that is itself among the merged).
		if _, ok := m.sets[bucket.key]; !ok {
			moved := m.sets[first]
			delete(m.sets, first)
			m.sets[bucket.key] = moved
		}
		m.sets[bucket.key] = &ownership{id: bucket, set: o.set.Union(m.sets[bucket.key].set), version: o.version, applied: o.applied, mixed: true}
		delete(m.sets, k)
		n--
		m.times[bucket.key] = t
	}
	return nil
}

// encodeEntries writes the entries back in upstream's order: operation,
// time (seconds), manager, version, subresource.
func encodeEntries(m ownerships) ([]metav1.ManagedFieldsEntry, error) {
	if len(m.sets) == 0 {
		return nil, nil
	}
	out := make([]metav1.ManagedFieldsEntry, 0, len(m.sets))
	for k, o := range m.sets {
		e := o.id.entry
		e.APIVersion = o.version
		if o.applied {
			e.Operation = metav1.ManagedFieldsOperationApply
		}
		e.FieldsType = "FieldsV1"
		var raw []byte
		var err error
		switch {
		case o.unchanged && o.origin.canonical != nil:
			// Shared by every object written from this cache entry; a
			// copy keeps one object's bytes its own.
			raw = slices.Clone(o.origin.canonical)
		case o.mixed:
			raw, err = o.set.ToJSON()
		default:
			raw, err = encodeSet(o.set, o.origin)
		}
		if err != nil {
			return nil, fmt.Errorf("failed to convert back managed fields to API: error encoding versioned set for %v: error encoding set: %v", k, err)
		}
		e.FieldsV1 = &metav1.FieldsV1{Raw: raw}
		if t, ok := m.times[k]; ok {
			e.Time = t
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(p, q metav1.ManagedFieldsEntry) int {
		if p.Operation != q.Operation {
			return cmp.Compare(p.Operation, q.Operation)
		}
		if c := cmp.Compare(unixOrZero(p.Time), unixOrZero(q.Time)); c != 0 {
			return c
		}
		if p.Manager != q.Manager {
			return cmp.Compare(p.Manager, q.Manager)
		}
		if p.APIVersion != q.APIVersion {
			return cmp.Compare(p.APIVersion, q.APIVersion)
		}
		return cmp.Compare(p.Subresource, q.Subresource)
	})
	return out, nil
}

func unixOrZero(t *metav1.Time) int64 {
	if t == nil {
		return 0
	}
	return t.Unix()
}
