package openapi

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"

	"github.com/batchlet/batchlet/internal/version"
)

// blob is a marshalled document and its content hash.
type blob struct {
	data []byte
	hash string
}

func newBlob(data []byte) blob {
	sum := sha512.Sum512(data)
	return blob{data: data, hash: strings.ToUpper(hex.EncodeToString(sum[:]))}
}

func (b blob) etag() string { return `"` + b.hash + `"` }

// documents holds every rendering, marshalled once.
type documents struct {
	v2JSON blob
	v3Root blob
	v3     map[string]*groupVersionDoc // by "api/v1", "apis/batch/v1"

	v2ProtoOnce sync.Once
	v2Proto     blob
	v2ProtoErr  error
	// buildErr is reported in place of a document that failed to build.
	buildErr error
}

func (d *documents) v2Protobuf() (blob, error) {
	d.v2ProtoOnce.Do(func() { d.v2Proto, d.v2ProtoErr = v2ToProtobuf(d.v2JSON.data) })
	return d.v2Proto, d.v2ProtoErr
}

// buildDocuments renders the model. Marshalling the kube-openapi types
// cannot fail for what the generator produces; should it, the document
// is served as an empty object and the error kept.
func buildDocuments(m *model) *documents {
	d := &documents{v3: map[string]*groupVersionDoc{}}
	v2, err := jsonMarshal(m.v2Document("Kubernetes", version.Get().GitVersion))
	if err != nil {
		d.buildErr = err
		v2 = []byte("{}")
	}
	d.v2JSON = newBlob(v2)

	type rootEntry struct {
		ServerRelativeURL string `json:"serverRelativeURL"`
	}
	root := map[string]map[string]rootEntry{"paths": {}}
	for _, gv := range m.gvs {
		key := strings.TrimPrefix(prefix(gv), "/")
		b, err := jsonMarshal(m.v3Document(gv))
		if err != nil {
			d.buildErr = err
			b = []byte("{}")
		}
		doc := &groupVersionDoc{json: newBlob(b)}
		doc.url = "/openapi/v3/" + key + "?hash=" + doc.json.hash
		d.v3[key] = doc
		root["paths"][key] = rootEntry{ServerRelativeURL: doc.url}
	}
	rootJSON, err := jsonMarshal(root)
	if err != nil {
		d.buildErr = err
	}
	d.v3Root = newBlob(rootJSON)
	return d
}

// jsonMarshal marshals without HTML escaping ("<" and ">" appear in
// descriptions) and without a trailing newline.
func jsonMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("marshal openapi document: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func v2ToProtobuf(doc []byte) (blob, error) {
	parsed, err := openapi_v2.ParseDocument(doc)
	if err != nil {
		return blob{}, fmt.Errorf("convert openapi v2 to protobuf: %w", err)
	}
	b, err := proto.Marshal(parsed)
	if err != nil {
		return blob{}, fmt.Errorf("marshal openapi v2 protobuf: %w", err)
	}
	return newBlob(b), nil
}

func v3ToProtobuf(doc []byte) (blob, error) {
	parsed, err := openapi_v3.ParseDocument(doc)
	if err != nil {
		return blob{}, fmt.Errorf("convert openapi v3 to protobuf: %w", err)
	}
	b, err := proto.Marshal(parsed)
	if err != nil {
		return blob{}, fmt.Errorf("marshal openapi v3 protobuf: %w", err)
	}
	return newBlob(b), nil
}
