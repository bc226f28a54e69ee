package etcd3

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"github.com/batchlet/batchlet/internal/serialize"
)

// codec turns typed API objects into the bytes stored in etcd and back.
// Stored bytes never carry a resourceVersion (it is the key's mod
// revision) and returned objects never carry TypeMeta, so that objects come
// out of the store looking like the ones that went in.
type codec struct {
	scheme *runtime.Scheme
	proto  *protobuf.Serializer
}

func newCodec(scheme *runtime.Scheme) *codec {
	return &codec{scheme: scheme, proto: protobuf.NewSerializer(scheme, scheme)}
}

// encode returns the stored form of obj and a private copy of obj that the
// store may hand back to callers. obj itself is not modified.
func (c *codec) encode(obj runtime.Object) ([]byte, runtime.Object, error) {
	if obj == nil {
		return nil, nil, fmt.Errorf("encoding: nil object")
	}
	out := obj.DeepCopyObject()
	data, err := c.encodeOwned(out)
	if err != nil {
		return nil, nil, err
	}
	return data, out, nil
}

// encodeOwned returns the stored form of obj, an object the caller hands
// over: it is encoded in place, with no copy, and left without
// resourceVersion and kind, ready to be returned once written.
func (c *codec) encodeOwned(obj runtime.Object) ([]byte, error) {
	if obj == nil {
		return nil, fmt.Errorf("encoding: nil object")
	}
	gvk, err := c.kindOf(obj)
	if err != nil {
		return nil, err
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", gvk.Kind, err)
	}
	accessor.SetResourceVersion("")
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	data, err := serialize.Encode(c.proto, obj)
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", gvk.Kind, err)
	}
	return data, nil
}

// kindOf finds the object's kind from the scheme; typed objects usually
// arrive without TypeMeta.
func (c *codec) kindOf(obj runtime.Object) (schema.GroupVersionKind, error) {
	kinds, _, err := c.scheme.ObjectKinds(obj)
	if err != nil {
		return schema.GroupVersionKind{}, fmt.Errorf("finding the kind of %T: %w", obj, err)
	}
	// A type registered under several versions is stored under the one
	// the object names, if any.
	want := obj.GetObjectKind().GroupVersionKind()
	for _, k := range kinds {
		if k == want {
			return k, nil
		}
	}
	return kinds[0], nil
}

// decode builds a fresh object from stored bytes and stamps it with rev.
func (c *codec) decode(data []byte, rev int64) (runtime.Object, error) {
	obj, err := serialize.DecodeProtobuf(c.proto, c.scheme, data)
	if err != nil {
		return nil, fmt.Errorf("decoding stored object: %w", err)
	}
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	if err := setResourceVersion(obj, rev); err != nil {
		return nil, err
	}
	return obj, nil
}

func setResourceVersion(obj runtime.Object, rev int64) error {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return fmt.Errorf("setting resourceVersion on %T: %w", obj, err)
	}
	if rev > 0 {
		accessor.SetResourceVersion(strconv.FormatInt(rev, 10))
	} else {
		accessor.SetResourceVersion("")
	}
	return nil
}
