package apiserver

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/batchlet/batchlet/internal/inproc"
)

// Media types the server speaks.
const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// outputKind says what shape a response takes.
type outputKind int

const (
	outputObject   outputKind = iota // the stored kind itself
	outputTable                      // meta.k8s.io Table
	outputMetadata                   // meta.k8s.io PartialObjectMetadata(List)
)

// output is the negotiated response format.
type output struct {
	mediaType string
	info      runtime.SerializerInfo
	kind      outputKind
	// metaVersion is the meta.k8s.io version asked for Table or
	// PartialObjectMetadata (v1 or v1beta1).
	metaVersion string
	// req is the request negotiated for (its query shapes tables).
	req *http.Request
}

// serializerFor returns the serializer for a media type (no parameters).
func (s *server) serializerFor(mediaType string) (runtime.SerializerInfo, bool) {
	for _, info := range s.codecs.SupportedMediaTypes() {
		if info.MediaType == mediaType {
			return info, true
		}
	}
	return runtime.SerializerInfo{}, false
}

// negotiateOutput picks the response format from the Accept header, in the
// client's order of preference. An empty header means JSON.
func (s *server) negotiateOutput(r *http.Request) (output, error) {
	accept := strings.Join(r.Header.Values("Accept"), ",")
	if strings.TrimSpace(accept) == "" {
		info, _ := s.serializerFor(mediaJSON)
		return output{mediaType: mediaJSON, info: info, req: r}, nil
	}
	for _, clause := range orderByQuality(strings.Split(accept, ",")) {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(clause))
		if err != nil {
			continue
		}
		if o, ok := s.outputFor(mt, params, handsOver(r)); ok {
			o.req = r
			return o, nil
		}
	}
	return output{}, notAcceptable()
}

// handsOver tells whether r may be answered with objects by reference:
// only reads the in-process transport served. What a read returns was
// decoded from storage, so its copy is what the wire would give; a
// write's response is the object as the request built it, which the
// wire would still normalize (times to whole seconds, for one).
func handsOver(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && inproc.Served(r.Context())
}

// outputFor resolves one Accept clause. Objects by reference go only
// where handOver allows, and only as themselves.
func (s *server) outputFor(mt string, params map[string]string, handOver bool) (output, bool) {
	switch mt {
	case "*/*", "application/*":
		mt = mediaJSON
	case mediaJSON, mediaYAML, mediaProtobuf:
	case inproc.ObjectMediaType:
		if !handOver || params["as"] != "" {
			return output{}, false
		}
		return output{mediaType: mt, info: s.handover}, true
	default:
		return output{}, false
	}
	info, ok := s.serializerFor(mt)
	if !ok {
		return output{}, false
	}
	o := output{mediaType: mt, info: info}
	as := params["as"]
	if as == "" {
		return o, true
	}
	if params["g"] != metav1.GroupName || (params["v"] != "v1" && params["v"] != "v1beta1") {
		return output{}, false
	}
	o.metaVersion = params["v"]
	switch as {
	case "Table":
		if mt == mediaProtobuf {
			return output{}, false
		}
		o.kind = outputTable
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		o.kind = outputMetadata
	default:
		return output{}, false
	}
	return o, true
}

// orderByQuality sorts Accept clauses by their q parameter, keeping the
// client's order among equals and dropping q=0.
func orderByQuality(clauses []string) []string {
	type weighted struct {
		clause string
		q      float64
	}
	var ws []weighted
	for _, c := range clauses {
		q := 1.0
		if _, params, err := mime.ParseMediaType(strings.TrimSpace(c)); err == nil {
			if v, ok := params["q"]; ok {
				q = parseQuality(v)
			}
		}
		if q > 0 {
			ws = append(ws, weighted{c, q})
		}
	}
	// insertion sort keeps it stable and the lists are tiny
	for i := 1; i < len(ws); i++ {
		for j := i; j > 0 && ws[j].q > ws[j-1].q; j-- {
			ws[j], ws[j-1] = ws[j-1], ws[j]
		}
	}
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.clause
	}
	return out
}

func parseQuality(v string) float64 {
	q, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 1
	}
	return q
}

// negotiateInput picks the request body's serializer from Content-Type.
func (s *server) negotiateInput(r *http.Request) (runtime.SerializerInfo, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = mediaJSON
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		if info, ok := s.serializerFor(mt); ok {
			return info, nil
		}
	}
	return runtime.SerializerInfo{}, unsupportedMediaType()
}

func notAcceptable() error {
	return apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "",
		"only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf", 0, false)
}

func unsupportedMediaType() error {
	return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
		"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf", 0, false)
}
