package apiserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fieldValidation is the fieldValidation query parameter.
type fieldValidation string

const (
	validationIgnore fieldValidation = metav1.FieldValidationIgnore
	validationWarn   fieldValidation = metav1.FieldValidationWarn
	validationStrict fieldValidation = metav1.FieldValidationStrict
)

// fieldValidationMode reads fieldValidation; absent means Warn, as upstream.
func fieldValidationMode(r *http.Request) (fieldValidation, error) {
	switch v := fieldValidation(r.URL.Query().Get("fieldValidation")); v {
	case "":
		return validationWarn, nil
	case validationIgnore, validationWarn, validationStrict:
		return v, nil
	default:
		return "", badRequestf("fieldValidation: Unsupported value: %q: supported values: \"Ignore\", \"Warn\", \"Strict\"", string(v))
	}
}

// readBody reads the request body up to the configured limit.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	limit := s.cfg.MaxRequestBodyBytes
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, entityTooLarge(limit)
		}
		return nil, badRequestf("reading request body: %v", err)
	}
	return data, nil
}

// decodeRequest reads and decodes a create or update body into a new
// object of res's kind, adding field validation warnings to w.
func (s *server) decodeRequest(w http.ResponseWriter, r *http.Request, res *resource, mode fieldValidation) (runtime.Object, error) {
	info, err := s.negotiateInput(r)
	if err != nil {
		return nil, err
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	obj, warnings, err := s.decodeObject(info, body, res, mode)
	if err != nil {
		return nil, err
	}
	for _, msg := range warnings {
		addWarning(w, msg)
	}
	return obj, nil
}

// decodeObject decodes body into res's kind. Unknown and duplicate fields
// fail the request (Strict), come back as warnings (Warn) or are dropped
// (Ignore).
func (s *server) decodeObject(info runtime.SerializerInfo, body []byte, res *resource, mode fieldValidation) (runtime.Object, []string, error) {
	decoder := info.Serializer
	if mode != validationIgnore && info.StrictSerializer != nil {
		decoder = info.StrictSerializer
	}
	want := res.GroupVersionKind()
	obj, gvk, err := decoder.Decode(body, &want, res.New())
	var warnings []string
	if err != nil {
		strictErr, isStrict := runtime.AsStrictDecodingError(err)
		switch {
		case isStrict && obj != nil && mode == validationWarn:
			for _, e := range strictErr.Errors() {
				warnings = append(warnings, e.Error())
			}
		case isStrict && obj != nil && mode == validationIgnore:
		default:
			return nil, nil, decodeError(err, gvk, res)
		}
	}
	if gvk == nil || obj == nil {
		return nil, nil, decodeError(fmt.Errorf("no object decoded"), gvk, res)
	}
	if gvk.GroupVersion() != res.GroupVersion {
		return nil, nil, badRequestf("the API version in the data (%s) does not match the expected API version (%s)", gvk.GroupVersion(), res.GroupVersion)
	}
	if gvk.Kind != res.Kind || reflect.TypeOf(obj) != reflect.TypeOf(res.New()) {
		return nil, nil, badRequestf("%s in version %q cannot be handled as a %s: the object provided is not a %s", gvk.Kind, gvk.Version, res.Kind, res.Kind)
	}
	return obj, warnings, nil
}

// decodeError is upstream's 400 for a body that does not decode.
func decodeError(err error, gvk *schema.GroupVersionKind, res *resource) error {
	if gvk != nil && gvk.Kind != "" {
		return badRequestf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, res.Kind, err)
	}
	return badRequestf("the object provided is unrecognized (must be of type %s): %v", res.Kind, err)
}
