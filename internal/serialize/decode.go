package serialize

import (
	"encoding/binary"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// protobufPrefix starts every object Kubernetes encodes in protobuf.
const protobufPrefix = "k8s\x00"

// DecodeProtobuf decodes one object of Kubernetes' protobuf encoding
// into a new object from creater, as fallback (the protobuf serializer)
// would, but without its copy of the object's bytes out of the envelope:
// the generated unmarshalers copy every string and byte slice they keep,
// so the object can be read straight from data. Anything this does not
// read itself (malformed envelopes, unknown kinds, types without a
// generated unmarshaler) goes to fallback, whose answer or error it is.
func DecodeProtobuf(fallback runtime.Decoder, creater runtime.ObjectCreater, data []byte) (runtime.Object, error) {
	if obj, ok := decodeEnvelope(creater, data); ok {
		return obj, nil
	}
	obj, _, err := fallback.Decode(data, nil, nil)
	return obj, err
}

// unmarshaler is what gogo-generated types implement.
type unmarshaler interface {
	Unmarshal([]byte) error
}

func decodeEnvelope(creater runtime.ObjectCreater, data []byte) (runtime.Object, bool) {
	if len(data) <= len(protobufPrefix) || string(data[:len(protobufPrefix)]) != protobufPrefix {
		return nil, false
	}
	// runtime.Unknown: 1 typeMeta, 2 raw, 3 contentEncoding, 4 contentType.
	// A field given twice (which protobuf merges) is left to fallback.
	var typeMeta, raw []byte
	var seen [5]bool
	ok := eachField(data[len(protobufPrefix):], func(num int, delimited bool, value []byte) bool {
		if num < len(seen) {
			if seen[num] || !delimited {
				return false
			}
			seen[num] = true
		}
		switch num {
		case 1:
			typeMeta = value
		case 2:
			raw = value
		case 3, 4:
			return len(value) == 0
		}
		return true
	})
	if !ok || typeMeta == nil {
		return nil, false
	}
	var apiVersion, kind string
	seen = [5]bool{}
	if !eachField(typeMeta, func(num int, delimited bool, value []byte) bool {
		if num < 3 {
			if seen[num] || !delimited {
				return false
			}
			seen[num] = true
		}
		switch num {
		case 1:
			apiVersion = string(value)
		case 2:
			kind = string(value)
		}
		return true
	}) {
		return nil, false
	}
	gv, perr := schema.ParseGroupVersion(apiVersion)
	if perr != nil || gv.Version == "" || kind == "" {
		return nil, false
	}
	gvk := gv.WithKind(kind)
	obj, cerr := creater.New(gvk)
	if cerr != nil {
		return nil, false
	}
	u, ok := obj.(unmarshaler)
	if !ok || u.Unmarshal(raw) != nil {
		return nil, false
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, true
}

// eachField calls f with the number of each field of a protobuf message,
// whether it is length-delimited and then its contents. It reports false
// when the message is malformed or f refused a field.
func eachField(msg []byte, f func(num int, delimited bool, value []byte) bool) bool {
	for len(msg) > 0 {
		tag, n := binary.Uvarint(msg)
		if n <= 0 || tag>>3 == 0 || tag>>3 > 1<<29 {
			return false
		}
		msg = msg[n:]
		num := int(tag >> 3)
		switch tag & 7 {
		case 0: // varint
			_, n := binary.Uvarint(msg)
			if n <= 0 {
				return false
			}
			msg = msg[n:]
		case 1: // 64-bit
			if len(msg) < 8 {
				return false
			}
			msg = msg[8:]
		case 5: // 32-bit
			if len(msg) < 4 {
				return false
			}
			msg = msg[4:]
		case 2: // length-delimited
			l, n := binary.Uvarint(msg)
			if n <= 0 || l > uint64(len(msg)-n) {
				return false
			}
			value := msg[n : n+int(l)]
			msg = msg[n+int(l):]
			if !f(num, true, value) {
				return false
			}
			continue
		default:
			return false
		}
		if !f(num, false, nil) {
			return false
		}
	}
	return true
}
