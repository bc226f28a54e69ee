package apiserver

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requestInfo is a resource request's path, split into its parts.
type requestInfo struct {
	gv          schema.GroupVersion
	namespace   string
	resource    string
	name        string
	subresource string
	// legacyWatch is set for the /watch/ path prefix.
	legacyWatch bool
}

// namespaceSubresources are the subresources of a namespace itself, which
// must not be mistaken for a resource inside the namespace.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// parseResourcePath splits /api/v1/... and /apis/<g>/<v>/... paths. It
// returns false for anything that is not a resource path.
func parseResourcePath(path string) (requestInfo, bool) {
	var info requestInfo
	parts := splitPath(path)
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		info.gv = schema.GroupVersion{Version: parts[1]}
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		info.gv = schema.GroupVersion{Group: parts[1], Version: parts[2]}
		parts = parts[3:]
	default:
		return info, false
	}
	if parts[0] == "watch" {
		info.legacyWatch = true
		parts = parts[1:]
		if len(parts) == 0 {
			return info, false
		}
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	if len(parts) > 3 {
		return info, false
	}
	for _, p := range parts {
		if p == "" {
			return info, false
		}
	}
	info.resource = parts[0]
	if len(parts) > 1 {
		info.name = parts[1]
	}
	if len(parts) > 2 {
		info.subresource = parts[2]
	}
	if info.resource == "namespaces" && info.name != "" {
		// A namespace is cluster-scoped; its name is not a containing namespace.
		info.namespace = ""
	}
	return info, true
}

// splitPath splits a URL path on "/" and drops empty segments at the ends.
func splitPath(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}
