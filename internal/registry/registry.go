// Package registry describes the kinds the apiserver serves. Each kind lives
// in its own sub-package (registry/job, registry/pod, ...) and provides a
// Resource: its names, how it is defaulted and validated, how create and
// update treat spec and status, its field selectors and its table columns.
// The apiserver's generic handlers do everything else (decoding, storage,
// ObjectMeta rules, watch, patch, deletion).
package registry

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource is one REST resource, e.g. batch/v1 jobs.
type Resource struct {
	GroupVersion schema.GroupVersion
	Kind         string   // "Job"
	ListKind     string   // "JobList"
	Plural       string   // "jobs": the URL segment and etcd key segment
	Singular     string   // "job"
	ShortNames   []string // e.g. "cj"
	Categories   []string // e.g. "all"
	Namespaced   bool

	// New and NewList return empty typed objects (e.g. &batchv1.Job{}).
	New     func() runtime.Object
	NewList func() runtime.Object

	Strategy Strategy

	// Status, when set, enables the /status subresource (GET, PUT, PATCH).
	Status StatusStrategy

	// Table converts objects to rows for `kubectl get`. Nil means the
	// generic NAME / CREATED AT table.
	Table TableConvertor

	// NameValidator validates metadata.name (and generateName with
	// prefix=true). Nil means a DNS-1123 subdomain, as for most kinds.
	NameValidator func(name string, prefix bool) []string

	// Verbs served, in discovery order. Nil means all of
	// create, delete, deletecollection, get, list, patch, update, watch.
	Verbs []string

	// Subresources other than status that the apiserver serves for this
	// kind (pods: binding, eviction, log, exec, attach). Listed in
	// discovery; their handlers live in the apiserver.
	Subresources []Subresource
}

// Subresource names a subresource for discovery.
type Subresource struct {
	Name  string                  // "eviction"
	Kind  schema.GroupVersionKind // response kind, e.g. policy/v1 Eviction
	Verbs []string                // e.g. ["create"]
}

// GroupVersionKind of the resource's objects.
func (r Resource) GroupVersionKind() schema.GroupVersionKind {
	return r.GroupVersion.WithKind(r.Kind)
}

// GroupVersionResource of the resource.
func (r Resource) GroupVersionResource() schema.GroupVersionResource {
	return r.GroupVersion.WithResource(r.Plural)
}

// Strategy holds a kind's create and update rules. ObjectMeta rules common
// to all kinds (name format, immutable uid/creationTimestamp/name, labels
// and annotations syntax) are applied by the generic handlers; a strategy
// validates only what is specific to its kind.
type Strategy interface {
	// Default fills defaults into a decoded object, as scheme defaulting
	// does upstream. Called on every create and update body (and on the
	// result of a patch) before Prepare*/Validate*.
	Default(obj runtime.Object)

	// PrepareForCreate clears fields a client may not set on create
	// (normally status) and sets server-owned ones (e.g. generation = 1,
	// generated selectors).
	PrepareForCreate(ctx context.Context, obj runtime.Object)

	// Validate checks a new object. Field paths start at the object root
	// (e.g. field.NewPath("spec", "template", ...)).
	Validate(ctx context.Context, obj runtime.Object) field.ErrorList

	// PrepareForUpdate copies what the main resource may not change (for
	// kinds with a status subresource: status) from old into obj, and bumps
	// metadata.generation when the spec changed.
	PrepareForUpdate(ctx context.Context, obj, old runtime.Object)

	// ValidateUpdate checks an update (immutable fields and the rest).
	ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList

	// GetAttrs returns the labels and the selectable fields of obj. The
	// generic layer adds metadata.name and metadata.namespace itself.
	// Calling it on an empty object must return every supported field key
	// (used to reject unsupported field selectors with 400).
	GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error)
}

// StatusStrategy holds the rules of the /status subresource.
type StatusStrategy interface {
	// PrepareForStatusUpdate keeps everything but status (and, as upstream,
	// metadata other than labels/annotations where the kind says so) from
	// old.
	PrepareForStatusUpdate(ctx context.Context, obj, old runtime.Object)
	ValidateStatusUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList
}

// TableConvertor renders objects as server-side table rows.
type TableConvertor interface {
	// Columns are the column definitions, in order (priority 0 columns
	// are the default view, priority 1 only with -o wide).
	Columns() []metav1.TableColumnDefinition
	// Row returns the cells of one object, one per column; now is the
	// time used for AGE and DURATION.
	Row(obj runtime.Object, now time.Time) ([]interface{}, error)
}

// Optional interfaces a Strategy may also implement.

// GarbageCollectionPolicy gives the propagation used when a DELETE names
// none (upstream: batch/v1 Job orphans, everything else deletes in the
// background).
type GarbageCollectionPolicy interface {
	DefaultGarbageCollectionPolicy() metav1.DeletionPropagation
}

// GracefulDeleter lets a kind delete gracefully (pods). Given the object
// and the requested grace period (nil when the client named none), it
// returns the grace period to use and whether deletion is graceful at all;
// graceful means the object stays with deletionTimestamp and
// deletionGracePeriodSeconds set until someone deletes it with grace 0.
type GracefulDeleter interface {
	CheckGracefulDelete(ctx context.Context, obj runtime.Object, requested *int64) (grace int64, graceful bool)
}

// Admitter runs after validation on create and update, for kind-specific
// checks that need other objects (e.g. a pod's node exists). It may mutate
// obj. Returned errors should be apierrors StatusErrors.
type Admitter interface {
	Admit(ctx context.Context, obj, old runtime.Object) error
}

// AfterDeleter releases what a kind holds outside its own object (a
// service's cluster IPs). The generic layer calls AfterDelete once the
// object is really gone from storage, and when a create fails after
// Admitter.Admit ran, with the object as Admit left it.
type AfterDeleter interface {
	AfterDelete(ctx context.Context, obj runtime.Object) error
}
