package openapi

// scalarDescriptions describe the apimachinery types that have no
// SwaggerDoc of their own.
var scalarDescriptions = map[string]string{
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time": "Time is a timestamp with second precision, " +
		"serialized as an RFC 3339 string (for example 2006-01-02T15:04:05Z).",
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime is a timestamp with microsecond precision, " +
		"serialized as an RFC 3339 string with six fractional digits.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration": "Duration is a time span, serialized as a Go duration string " +
		"(for example 1h30m).",
	"io.k8s.apimachinery.pkg.api.resource.Quantity": "Quantity is a fixed-point number with an optional suffix: " +
		"a binary SI suffix (Ki, Mi, Gi, Ti, Pi, Ei), a decimal SI suffix (n, u, m, \"\", k, M, G, T, P, E) " +
		"or a decimal exponent (e or E). Examples: 100m, 1.5, 128Mi, 1e3.",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "IntOrString holds either an integer or a string " +
		"(for example a port number or a port name, or a count or a percentage).",
	"io.k8s.apimachinery.pkg.runtime.RawExtension": "RawExtension holds an arbitrary embedded object, " +
		"serialized with its own apiVersion and kind.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": "FieldsV1 is the JSON trie of field paths that a " +
		"managedFields entry owns.",
}
