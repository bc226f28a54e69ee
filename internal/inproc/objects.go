package inproc

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"reflect"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/runtime/serializer/recognizer"
	"k8s.io/client-go/kubernetes/scheme"
)

// ObjectMediaType is a response format only this transport carries: the
// body holds a token for an object the server handed over in memory, and
// the client's decoder takes a deep copy of that object. It spares the
// server's encoding and, what costs most, the client's decoding (a pod
// decodes in ~25 µs and ~9 KB of garbage; its deep copy shares the
// strings and costs a third of that).
//
// Everything else about the request stays HTTP: status codes, headers,
// errors (encoded as usual) and watch framing (length-delimited protobuf
// WatchEvents whose object is the token). A server must offer it only to
// requests that this transport served (see Served), since a token means
// nothing anywhere else.
const ObjectMediaType = "application/vnd.batchlet.object"

// objectTokenTTL bounds how long an object waits for its client: a token
// is decoded right after its body or watch frame is read, so only bodies
// that are never read (a client gone mid-stream) leave entries behind,
// and those go after one to two TTLs.
const objectTokenTTL = time.Minute

// tokenMagic starts every token; tokenLen is its whole length: the magic,
// this process's key and the entry's number.
const (
	tokenMagic = "\x00blobj\x00\x01"
	tokenLen   = len(tokenMagic) + 16
)

// servedKey marks the context of a request this transport serves.
type servedKey struct{}

// Served tells whether ctx is that of a request served by a Transport of
// this process: only such requests may be answered in ObjectMediaType.
func Served(ctx context.Context) bool {
	v, _ := ctx.Value(servedKey{}).(bool)
	return v
}

// objects holds the objects handed over and not yet taken. Entries live
// in two generations: a new one starts when the current one is a TTL old,
// and the one before it is dropped.
type objectTable struct {
	// key is random per process, so a token cannot be guessed by anyone
	// who has not been handed one (say, a remote server answering a
	// client of this process in ObjectMediaType).
	key      [8]byte
	mu       sync.Mutex
	next     uint64
	current  map[uint64]runtime.Object
	previous map[uint64]runtime.Object
	started  time.Time
	now      func() time.Time
}

var objects = newObjectTable(time.Now)

func newObjectTable(now func() time.Time) *objectTable {
	t := &objectTable{current: map[uint64]runtime.Object{}, now: now, started: now()}
	if _, err := rand.Read(t.key[:]); err != nil {
		panic(fmt.Sprintf("inproc: no randomness for the object table's key: %v", err))
	}
	return t
}

// put keeps obj and returns its token.
func (t *objectTable) put(obj runtime.Object) []byte {
	t.mu.Lock()
	if now := t.now(); now.Sub(t.started) >= objectTokenTTL {
		t.previous, t.current, t.started = t.current, map[uint64]runtime.Object{}, now
	}
	t.next++
	n := t.next
	t.current[n] = obj
	t.mu.Unlock()
	token := make([]byte, tokenLen)
	copy(token, tokenMagic)
	copy(token[len(tokenMagic):], t.key[:])
	binary.LittleEndian.PutUint64(token[len(tokenMagic)+8:], n)
	return token
}

// take removes and returns the object of token.
func (t *objectTable) take(token []byte) (runtime.Object, error) {
	if len(token) != tokenLen || string(token[:len(tokenMagic)]) != tokenMagic {
		return nil, fmt.Errorf("inproc: a %s body is a %d-byte token, not %d bytes", ObjectMediaType, tokenLen, len(token))
	}
	if string(token[len(tokenMagic):len(tokenMagic)+8]) != string(t.key[:]) {
		return nil, fmt.Errorf("inproc: a %s token from another process", ObjectMediaType)
	}
	n := binary.LittleEndian.Uint64(token[len(tokenMagic)+8:])
	t.mu.Lock()
	defer t.mu.Unlock()
	if obj, ok := t.current[n]; ok {
		delete(t.current, n)
		return obj, nil
	}
	if obj, ok := t.previous[n]; ok {
		delete(t.previous, n)
		return obj, nil
	}
	return nil, fmt.Errorf("inproc: %s token %d was taken already or expired", ObjectMediaType, n)
}

// pending is how many objects wait for their clients.
func (t *objectTable) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.current) + len(t.previous)
}

// objectSerializer writes a token for each object it encodes and decodes
// a token into a deep copy of its object. The encoder gives the object
// away: it must not change afterwards (the server's responses and its
// watch cache's objects do not).
type objectSerializer struct {
	table *objectTable
	typer runtime.ObjectTyper
}

var (
	_ runtime.Serializer            = objectSerializer{}
	_ recognizer.RecognizingDecoder = objectSerializer{}
)

func (s objectSerializer) Encode(obj runtime.Object, w io.Writer) error {
	if obj == nil {
		return fmt.Errorf("inproc: no object to hand over")
	}
	_, err := w.Write(s.table.put(obj))
	return err
}

func (s objectSerializer) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	obj, err := s.table.take(data)
	if err != nil {
		return nil, nil, err
	}
	cp := copyForClient(obj)
	gvk := cp.GetObjectKind().GroupVersionKind()
	if gvk.Empty() && s.typer != nil {
		if kinds, _, err := s.typer.ObjectKinds(cp); err == nil && len(kinds) > 0 {
			gvk = kinds[0]
			cp.GetObjectKind().SetGroupVersionKind(gvk)
		}
	}
	if into == nil {
		return cp, &gvk, nil
	}
	dst, src := reflect.ValueOf(into), reflect.ValueOf(cp)
	if dst.Type() != src.Type() || dst.Kind() != reflect.Pointer || dst.IsNil() {
		return nil, nil, fmt.Errorf("inproc: a %T was handed over, which does not decode into a %T", cp, into)
	}
	dst.Elem().Set(src.Elem())
	return into, &gvk, nil
}

// copyForClient deep-copies obj but for its managedFields' field sets and
// times, which the copy shares with obj and so with every other client of
// the same event. They are the bulk of a pod's metadata; the controller
// manager's and scheduler's informers drop them at once, and no component
// reads or changes them in place (the apiserver decodes what clients send
// afresh). Anything that is not a single object is copied whole.
func copyForClient(obj runtime.Object) runtime.Object {
	if pod, ok := obj.(*corev1.Pod); ok && pod != nil {
		// The most common object, without reflection.
		without := *pod
		without.ManagedFields = nil
		cp := without.DeepCopy()
		cp.ManagedFields = append([]metav1.ManagedFieldsEntry(nil), pod.ManagedFields...)
		return cp
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return obj.DeepCopyObject()
	}
	entries := acc.GetManagedFields()
	v := reflect.ValueOf(obj)
	if len(entries) == 0 || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return obj.DeepCopyObject()
	}
	// Copy a shallow copy without the entries: obj itself is shared by
	// every client taking the same event and must not change.
	shallow := reflect.New(v.Elem().Type())
	shallow.Elem().Set(v.Elem())
	without, ok := shallow.Interface().(runtime.Object)
	if !ok {
		return obj.DeepCopyObject()
	}
	wacc, err := meta.Accessor(without)
	if err != nil {
		return obj.DeepCopyObject()
	}
	wacc.SetManagedFields(nil)
	cp := without.DeepCopyObject()
	cacc, err := meta.Accessor(cp)
	if err != nil {
		return obj.DeepCopyObject()
	}
	cacc.SetManagedFields(append([]metav1.ManagedFieldsEntry(nil), entries...))
	return cp
}

func (objectSerializer) Identifier() runtime.Identifier { return runtime.Identifier(ObjectMediaType) }

// RecognizesData claims tokens and nothing else, so that a decoder trying
// every format (client-go's universal one) never reports a token error
// for data in another format.
func (objectSerializer) RecognizesData(data []byte) (ok, unknown bool, err error) {
	return len(data) == tokenLen && string(data[:len(tokenMagic)]) == tokenMagic, false, nil
}

// ObjectSerializerInfo describes ObjectMediaType to a codec factory. Watch
// events are framed as protobuf ones, each holding a token.
func ObjectSerializerInfo(creater runtime.ObjectCreater, typer runtime.ObjectTyper) runtime.SerializerInfo {
	s := objectSerializer{table: objects, typer: typer}
	return runtime.SerializerInfo{
		MediaType:        ObjectMediaType,
		MediaTypeType:    "application",
		MediaTypeSubType: "vnd.batchlet.object",
		Serializer:       s,
		StrictSerializer: s,
		StreamSerializer: &runtime.StreamSerializerInfo{
			Serializer: protobuf.NewRawSerializer(creater, typer),
			Framer:     protobuf.LengthDelimitedFramer,
		},
	}
}

// Generated clients take their codecs from client-go's scheme.Codecs when
// they are built, so ObjectMediaType joins them here, before any client
// exists. Nothing else changes for those clients: a server answers in
// this media type only when asked to, and only through this transport.
func init() {
	scheme.Codecs = serializer.NewCodecFactory(scheme.Scheme, serializer.WithSerializer(ObjectSerializerInfo))
}
