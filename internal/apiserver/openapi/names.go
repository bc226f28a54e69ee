package openapi

import (
	"reflect"
	"strings"
)

// definitionName names a Go type the way upstream names its OpenAPI
// definitions: the package path with its leading domain reversed, then the
// type name (k8s.io/api/batch/v1.Job is io.k8s.api.batch.v1.Job).
func definitionName(t reflect.Type) string {
	pkg := t.PkgPath()
	if pkg == "" {
		return t.Name()
	}
	parts := strings.Split(pkg, "/")
	domain := strings.Split(parts[0], ".")
	for i, j := 0, len(domain)-1; i < j; i, j = i+1, j-1 {
		domain[i], domain[j] = domain[j], domain[i]
	}
	parts[0] = strings.Join(domain, ".")
	return strings.Join(parts, ".") + "." + t.Name()
}
