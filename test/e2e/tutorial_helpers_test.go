package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// example returns the path of a file under the repository's examples/.
func example(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "examples"}, parts...)...)
}

// namespace creates a namespace for one test and deletes it when the test
// ends, without waiting for the deletion to finish.
func namespace(t *testing.T, c *cluster, name string) string {
	t.Helper()
	c.mustKubectl(t, "create", "namespace", name)
	t.Cleanup(func() { c.kubectl(t, "delete", "namespace", name, "--wait=false") })
	return name
}

// jsonpath reads one jsonpath expression of an object.
func jsonpath(t *testing.T, c *cluster, ns, obj, expr string) string {
	t.Helper()
	return strings.TrimSpace(c.mustKubectl(t, "get", obj, "-n", ns, "-o", "jsonpath="+expr))
}

// fieldsOf splits whitespace-separated kubectl output into its words.
func fieldsOf(s string) []string { return strings.Fields(s) }
