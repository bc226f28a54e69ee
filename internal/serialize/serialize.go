// Package serialize turns API objects into bytes with as few copies as
// the encoder allows.
package serialize

import (
	"bytes"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
)

// Encode returns obj encoded by enc, or the encoder's error. The protobuf serializers size one
// buffer for the whole object and write it once; keeping that buffer
// spares the copy into a growing bytes.Buffer, which for a pod costs
// about twice the object's size in garbage. Other encoders (JSON reuses
// pooled buffers once written) get a buffer of their own.
func Encode(enc runtime.Encoder, obj runtime.Object) ([]byte, error) {
	var ea runtime.EncoderWithAllocator
	switch e := enc.(type) {
	case *protobuf.Serializer:
		ea = e
	case *protobuf.RawSerializer:
		ea = e
	}
	if ea != nil {
		var w ownedWriter
		if err := ea.EncodeWithAllocator(obj, &w, &runtime.SimpleAllocator{}); err != nil {
			return nil, err
		}
		return w.bytes(), nil
	}
	var buf bytes.Buffer
	if err := enc.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ownedWriter keeps what it is given without copying while there is a
// single write: with a SimpleAllocator every buffer is fresh and the
// encoder never touches it after writing it. A second write means the
// encoder streams (it may hand over slices it still owns, such as its
// prefix), so from then on everything is copied.
type ownedWriter struct {
	first  []byte
	copied []byte
	writes int
}

func (w *ownedWriter) Write(p []byte) (int, error) {
	w.writes++
	switch w.writes {
	case 1:
		w.first = p
	case 2:
		w.copied = make([]byte, 0, 2*(len(w.first)+len(p)))
		w.copied = append(append(w.copied, w.first...), p...)
		w.first = nil
	default:
		w.copied = append(w.copied, p...)
	}
	return len(p), nil
}

func (w *ownedWriter) bytes() []byte {
	if w.writes > 1 {
		return w.copied
	}
	return w.first
}
