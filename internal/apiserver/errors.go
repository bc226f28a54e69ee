package apiserver

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/batchlet/batchlet/internal/storage"
)

// optimisticLockMsg is upstream's text for a stale resourceVersion.
const optimisticLockMsg = "the object has been modified; please apply your changes to the latest version and try again"

// storageError maps a storage error about object name of gr to the API
// error upstream returns; API errors pass through unchanged.
func storageError(err error, gr schema.GroupResource, name string) error {
	if err == nil {
		return nil
	}
	var apiStatus apierrors.APIStatus
	if errors.As(err, &apiStatus) {
		return err
	}
	var se *storage.Error
	if !errors.As(err, &se) {
		return apierrors.NewInternalError(err)
	}
	switch se.Code {
	case storage.ErrCodeKeyNotFound:
		return apierrors.NewNotFound(gr, name)
	case storage.ErrCodeKeyExists:
		return apierrors.NewAlreadyExists(gr, name)
	case storage.ErrCodeConflict:
		return apierrors.NewConflict(gr, name, errors.New(conflictMessage(se)))
	case storage.ErrCodeExpired:
		return apierrors.NewResourceExpired(se.Message)
	case storage.ErrCodeInvalidContinue:
		return apierrors.NewBadRequest(se.Message)
	case storage.ErrCodeTooLargeResourceVersion:
		return tooLargeResourceVersion(se.Message)
	}
	return apierrors.NewInternalError(err)
}

func conflictMessage(se *storage.Error) string {
	if se.Message == "" {
		return optimisticLockMsg
	}
	return se.Message
}

// tooLargeResourceVersion is upstream's 504 for a revision the store has
// not reached yet.
func tooLargeResourceVersion(msg string) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %s", msg), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{
		Type:    metav1.CauseTypeResourceVersionTooLarge,
		Message: "Too large resource version",
	}}
	return err
}

// badRequestf is a 400 with a formatted message.
func badRequestf(format string, args ...any) error {
	return apierrors.NewBadRequest(fmt.Sprintf(format, args...))
}

// entityTooLarge is the 413 for an oversized body.
func entityTooLarge(limit int64) error {
	return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", limit))
}
