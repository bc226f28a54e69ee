package apiserver

import (
	"reflect"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/inproc"
)

// encodingKey names one encoding of an event's object: the output shape
// and the media type. Tables are never shared: their first event carries
// column definitions and their cells depend on the request.
type encodingKey struct {
	kind        outputKind
	metaVersion string
	mediaType   string
}

// sharedEncodings holds the encodings of one watch cache event's object,
// made by the first watcher that sends it in a format and reused by the
// others: every watcher of a resource would otherwise encode the same
// object once each.
type sharedEncodings struct {
	mu    sync.Mutex
	items []sharedEncoding
}

type sharedEncoding struct {
	key  encodingKey
	data []byte
}

// get returns the encoding under key, making it with encode the first
// time. Failures are not kept: each watcher meets its own.
func (e *sharedEncodings) get(key encodingKey, encode func() ([]byte, error)) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, it := range e.items {
		if it.key == key {
			return it.data, nil
		}
	}
	data, err := encode()
	if err != nil {
		return nil, err
	}
	e.items = append(e.items, sharedEncoding{key: key, data: data})
	return data, nil
}

// encodingsOf returns the shared encodings of obj when it is the object
// of an event the cache still holds, nil otherwise.
func (c *watchCache) encodingsOf(obj runtime.Object) *sharedEncodings {
	if !shareable(obj) {
		return nil
	}
	if e, ok := c.encodings.Load(obj); ok {
		return e.(*sharedEncodings)
	}
	return nil
}

// keyOf is the encodingKey of an output, false for outputs never shared.
func keyOf(out output) (encodingKey, bool) {
	// A table depends on the request; a handed-over object is taken by
	// the one client its token reaches.
	if out.kind == outputTable || out.mediaType == inproc.ObjectMediaType {
		return encodingKey{}, false
	}
	return encodingKey{kind: out.kind, metaVersion: out.metaVersion, mediaType: out.mediaType}, true
}

// shareable tells whether obj can key the encodings: a non-nil pointer,
// as every stored object is (a key of another kind might not even be
// comparable).
func shareable(obj runtime.Object) bool {
	if obj == nil {
		return false
	}
	v := reflect.ValueOf(obj)
	return v.Kind() == reflect.Pointer && !v.IsNil()
}
