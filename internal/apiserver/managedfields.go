package apiserver

import (
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchlet/batchlet/internal/apiserver/patch"
)

// requestManager returns the field manager a create, update or patch is
// recorded under: the fieldManager parameter or, as upstream, the
// printable part of the User-Agent before its first "/". optionsKind
// (CreateOptions, UpdateOptions, PatchOptions) names the options in a
// validation error.
func requestManager(r *http.Request, optionsKind string) (string, error) {
	manager := r.URL.Query().Get("fieldManager")
	if errs := metav1validation.ValidateFieldManager(manager, field.NewPath("fieldManager")); len(errs) > 0 {
		return "", apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: optionsKind}, "", errs)
	}
	if manager != "" {
		return manager, nil
	}
	return userAgentManager(r.UserAgent()), nil
}

// userAgentManager keeps what upstream keeps of a User-Agent.
func userAgentManager(ua string) string {
	prefix, _, _ := strings.Cut(ua, "/")
	var b strings.Builder
	for _, c := range prefix {
		if !unicode.IsPrint(c) {
			continue
		}
		if b.Len()+utf8.RuneLen(c) > metav1validation.FieldManagerMaxLength {
			break
		}
		b.WriteRune(c)
	}
	return b.String()
}

// recordManagedFields notes in obj's managedFields that manager set the
// fields that differ from old (nil on create), through subresource ("" or
// "status"). An empty manager (a client without User-Agent) records
// nothing, nor does a kind the field manager has no schema for. As
// upstream, a failure never fails the write: obj goes on without
// managedFields, and validation reports what is wrong with it.
func (s *server) recordManagedFields(res *resource, old, obj runtime.Object, manager, subresource string) runtime.Object {
	if manager == "" || !res.trackFields {
		return obj
	}
	out, err := patch.UpdateObjectManagedFields(old, obj, res.GroupVersionKind(), manager, subresource)
	if err != nil {
		if acc, aerr := accessor(obj); aerr == nil {
			acc.SetManagedFields(nil)
		}
		return obj
	}
	// Stored times have second precision; a finer one would make a no-op
	// write differ from what a client read back.
	if acc, err := accessor(out); err == nil {
		entries := acc.GetManagedFields()
		for i := range entries {
			if t := entries[i].Time; t != nil {
				entries[i].Time = &metav1.Time{Time: t.Truncate(time.Second)}
			}
		}
	}
	return out
}
