package apiserver

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/batchlet/batchlet/internal/serialize"
)

// setKind fills obj's apiVersion and kind from the scheme.
func (s *server) setKind(obj runtime.Object) error {
	if !obj.GetObjectKind().GroupVersionKind().Empty() {
		return nil
	}
	gvks, _, err := s.scheme.ObjectKinds(obj)
	if err != nil {
		return fmt.Errorf("kind of %T: %w", obj, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	return nil
}

// encode serializes obj (whose kind is set here) with info.
func (s *server) encode(info runtime.SerializerInfo, obj runtime.Object) ([]byte, error) {
	if err := s.setKind(obj); err != nil {
		return nil, err
	}
	data, err := serialize.Encode(info.Serializer, obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %T: %w", obj, err)
	}
	return data, nil
}

// writeRaw writes obj in the negotiated format as it is (no Table or
// metadata transformation).
func (s *server) writeRaw(w http.ResponseWriter, r *http.Request, out output, code int, obj runtime.Object) {
	data, err := s.encode(out.info, obj)
	if err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	w.Header().Set("Content-Type", out.mediaType)
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// writeObject writes obj, turned into the negotiated shape (Table,
// PartialObjectMetadata or the object itself).
func (s *server) writeObject(w http.ResponseWriter, r *http.Request, rq *request, code int, obj runtime.Object) {
	out, err := s.negotiateOutput(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	shaped, err := s.shape(rq, out, obj, true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeRaw(w, r, out, code, shaped)
}

// writeError writes err as a Status. Errors that are not API errors become
// 500s, logged with their detail.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := toStatus(err)
	if status.Code >= 500 {
		log.Printf("apiserver: %s %s: %v", r.Method, r.URL.Path, err)
	}
	status.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}
	info, ok := s.serializerFor(mediaJSON)
	mt := mediaJSON
	if out, err := s.negotiateOutput(r); err == nil && out.mediaType == mediaProtobuf {
		info, ok, mt = out.info, true, mediaProtobuf
	}
	if !ok {
		http.Error(w, status.Message, int(status.Code))
		return
	}
	var buf bytes.Buffer
	if err := info.Serializer.Encode(status, &buf); err != nil {
		http.Error(w, status.Message, int(status.Code))
		return
	}
	w.Header().Set("Content-Type", mt)
	w.WriteHeader(int(status.Code))
	_, _ = w.Write(buf.Bytes())
}

// toStatus converts any error into a Status.
func toStatus(err error) *metav1.Status {
	var apiStatus apierrors.APIStatus
	if errors.As(err, &apiStatus) {
		st := apiStatus.Status()
		if st.Code == 0 {
			st.Code = http.StatusInternalServerError
		}
		return &st
	}
	st := apierrors.NewInternalError(err).Status()
	return &st
}

// successStatus is the Status of a completed delete or action.
func successStatus(code int, details *metav1.StatusDetails) *metav1.Status {
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status:   metav1.StatusSuccess,
		Code:     int32(code),
		Details:  details,
	}
}

// addWarning adds an RFC 7234 warning header, as upstream does for
// field validation in Warn mode.
func addWarning(w http.ResponseWriter, msg string) {
	escaped := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(msg)
	w.Header().Add("Warning", `299 - "`+escaped+`"`)
}

// metaGV is the meta.k8s.io group version of the given version.
func metaGV(version string) schema.GroupVersion {
	if version == "" {
		version = "v1"
	}
	return schema.GroupVersion{Group: metav1.GroupName, Version: version}
}
