package patch

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// ServerSideApply merges applyBody (YAML or JSON) into currentJSON (nil when
// the object does not exist yet) on behalf of manager and returns the new
// object with metadata.managedFields updated. Fields another manager owns
// with a different value are a 409 Conflict unless force; fields the
// manager applied before and no longer applies are removed. dataStruct may
// be nil; when given it must be of gvk's Go type.
func ServerSideApply(currentJSON []byte, applyBody []byte, dataStruct runtime.Object, gvk schema.GroupVersionKind, manager string, force bool) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, recovered(p)
		}
	}()
	if manager == "" {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "PatchOptions"}, "",
			field.ErrorList{field.Required(field.NewPath("fieldManager"), "is required for apply patch")})
	}
	applied := &unstructured.Unstructured{Object: map[string]any{}}
	if err := yaml.Unmarshal(applyBody, &applied.Object); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	if applied.Object == nil {
		return nil, apierrors.NewBadRequest("error decoding YAML: the apply configuration is empty")
	}
	if got := applied.GroupVersionKind(); got != gvk {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid object type: %v", got))
	}
	fm, err := fieldManagerFor(gvk)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	live, err := decodeTyped(currentJSON, gvk)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if dataStruct != nil && newLike(dataStruct) != nil {
		if want, got := fmt.Sprintf("%T", dataStruct), fmt.Sprintf("%T", live); want != got {
			return nil, apierrors.NewInternalError(fmt.Errorf("object type %s does not match %v (%s)", want, gvk, got))
		}
	}
	result, err := fm.Apply(live, applied, manager, force)
	if err != nil {
		return nil, unknownError(err)
	}
	out, err = encodeTyped(result, gvk)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return out, nil
}

// UpdateManagedFields records in newJSON's managedFields that manager set
// the fields that differ between oldJSON (nil on create) and newJSON, so a
// later apply sees who owns what. operation must be "Update" (or empty);
// apply requests go through ServerSideApply instead. If newJSON carries
// managedFields different from oldJSON's, the client's list is taken as the
// starting point, which lets clients reset or rewrite ownership.
func UpdateManagedFields(oldJSON, newJSON []byte, gvk schema.GroupVersionKind, manager string, operation string) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, recovered(p)
		}
	}()
	if operation != "" && operation != string(metav1.ManagedFieldsOperationUpdate) {
		return nil, apierrors.NewInternalError(fmt.Errorf("unsupported managedFields operation %q", operation))
	}
	if manager == "" {
		return nil, apierrors.NewInternalError(fmt.Errorf("a field manager name is required"))
	}
	fm, err := fieldManagerFor(gvk)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	live, err := decodeTyped(oldJSON, gvk)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	updated, err := decodeTyped(newJSON, gvk)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	result, err := fm.Update(live, updated, manager)
	if err != nil {
		return nil, unknownError(err)
	}
	out, err = encodeTyped(result, gvk)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return out, nil
}
