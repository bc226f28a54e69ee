package apiserver

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestSharedEncodingsEncodeOncePerKey(t *testing.T) {
	var e sharedEncodings
	calls := 0
	encode := func(s string) func() ([]byte, error) {
		return func() ([]byte, error) { calls++; return []byte(s), nil }
	}
	jsonKey := encodingKey{kind: outputObject, mediaType: mediaJSON}
	protoKey := encodingKey{kind: outputObject, mediaType: mediaProtobuf}
	for i := 0; i < 3; i++ {
		if got, _ := e.get(jsonKey, encode("j")); string(got) != "j" {
			t.Fatalf("json encoding = %q", got)
		}
	}
	if got, _ := e.get(protoKey, encode("p")); string(got) != "p" {
		t.Fatalf("protobuf encoding = %q", got)
	}
	if calls != 2 {
		t.Errorf("%d encodings made for 2 keys", calls)
	}
	failKey := encodingKey{kind: outputMetadata, metaVersion: "v1", mediaType: mediaJSON}
	if _, err := e.get(failKey, func() ([]byte, error) { return nil, errors.New("boom") }); err == nil {
		t.Fatal("a failed encoding was not reported")
	}
	if got, err := e.get(failKey, encode("m")); err != nil || string(got) != "m" {
		t.Errorf("after a failure: %q %v, want a fresh encoding", got, err)
	}
}

// Watchers served from the cache, sharing encodings, receive byte for byte
// what a watcher served straight from storage (each event encoded for it
// alone) receives, in every shared output format.
func TestWatchCacheSharedEncodingsMatchUnshared(t *testing.T) {
	env := newTestEnv(t)
	direct, err := New(Config{Storage: env.store, Resources: testResources(), Clock: env.clock})
	if err != nil {
		t.Fatal(err)
	}
	direct.(*server).watchCaches = nil
	directSrv := httptest.NewServer(direct)
	defer directSrv.Close()

	ctx := context.Background()
	cms := env.client.CoreV1().ConfigMaps("default")
	start, err := cms.Create(ctx, cm("start", nil), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	formats := []string{
		mediaJSON,
		mediaProtobuf,
		"application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
		"application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
	}
	path := "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + start.ResourceVersion
	type stream struct {
		name string
		body io.ReadCloser
		prot bool
	}
	var streams []stream
	for _, accept := range formats {
		for i, base := range []string{env.srv.URL, env.srv.URL, directSrv.URL} {
			body := openRawWatch(t, base+path, accept)
			defer body.Close()
			streams = append(streams, stream{name: fmt.Sprintf("%s #%d", accept, i), body: body, prot: accept[len("application/"):][0] == 'v'})
		}
	}
	const events = 3
	for i := 0; i < events; i++ {
		if _, err := cms.Create(ctx, cm(fmt.Sprintf("c%d", i), map[string]string{"k": "v"}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for f := range formats {
		group := streams[3*f : 3*f+3]
		readers := make([]func() []byte, len(group))
		for i := range group {
			readers[i] = rawFrameReader(t, group[i].body, group[i].prot)
		}
		for ev := 0; ev < events; ev++ {
			var want []byte
			for i, s := range group {
				got := readers[i]()
				if i == 0 {
					want = got
					continue
				}
				if string(got) != string(want) {
					t.Errorf("%s event %d:\n%s\nwant (first cached watcher)\n%s", s.name, ev, got, want)
				}
			}
		}
	}
	cache := env.api.watchCacheOf(env.api.lookup(schema.GroupVersion{Version: "v1"}, "configmaps"))
	shared := 0
	cache.encodings.Range(func(_, v any) bool {
		e := v.(*sharedEncodings)
		e.mu.Lock()
		shared += len(e.items)
		e.mu.Unlock()
		return true
	})
	if shared != events*len(formats) {
		t.Errorf("%d shared encodings, want %d (one per event and format)", shared, events*len(formats))
	}
}

func openRawWatch(t *testing.T, url, accept string) io.ReadCloser {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Authorization", "Bearer good")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("watch %s (%s): %s", url, accept, resp.Status)
	}
	return resp.Body
}

// rawFrameReader reads watch events as sent: length-prefixed frames for
// protobuf, JSON documents otherwise.
func rawFrameReader(t *testing.T, body io.Reader, protobuf bool) func() []byte {
	r := bufio.NewReader(body)
	dec := json.NewDecoder(r)
	return func() []byte {
		t.Helper()
		if protobuf {
			var n uint32
			if err := binary.Read(r, binary.BigEndian, &n); err != nil {
				t.Fatalf("reading frame length: %v", err)
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(r, buf); err != nil {
				t.Fatalf("reading frame: %v", err)
			}
			return buf
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("reading JSON event: %v", err)
		}
		return raw
	}
}

func TestShareableKeys(t *testing.T) {
	var nilPod *corev1.Pod
	for _, c := range []struct {
		obj  runtime.Object
		want bool
	}{
		{nil, false},
		{nilPod, false},
		{&corev1.Pod{}, true},
	} {
		if got := shareable(c.obj); got != c.want {
			t.Errorf("shareable(%#v) = %v, want %v", c.obj, got, c.want)
		}
	}
	// An object the ring never held has no shared encodings.
	if (&watchCache{}).encodingsOf(&corev1.Pod{}) != nil {
		t.Error("encodings found for an object never dispatched")
	}
}
