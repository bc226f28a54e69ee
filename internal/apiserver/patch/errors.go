package patch

import (
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// unprocessable is the bare 422 kube-apiserver answers when a well-formed
// patch cannot be applied to the current object.
func unprocessable(msg string) error {
	return apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", msg, 0, false)
}

// invalidPatchResult is the 422 for a patch whose result no longer decodes
// into the object's type.
func invalidPatchResult(value string, err error) error {
	return apierrors.NewInvalid(schema.GroupKind{}, "", field.ErrorList{
		field.Invalid(field.NewPath("patch"), value, err.Error()),
	})
}

// unknownError mirrors how kube-apiserver reports an error that carries no
// status of its own: 500 with no reason and the error text as message.
func unknownError(err error) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusInternalServerError,
		Reason:  metav1.StatusReasonUnknown,
		Message: err.Error(),
	}}
}

// recovered turns a panic inside a patch library into a 500 so that no
// request body can take the server down.
func recovered(p any) error {
	return apierrors.NewInternalError(fmt.Errorf("patch could not be applied: %v", p))
}

// unsupportedPatchType is the 415 for a patch type Apply does not handle.
func unsupportedPatchType() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Code:   http.StatusUnsupportedMediaType,
		Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: "the body of the request was in an unknown format - accepted media types include: " +
			"application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json",
	}}
}
