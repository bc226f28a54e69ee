package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// wqFruits are the work items of the tutorials: eight for RabbitMQ, and
// orange as well for Redis.
var wqFruits = []string{"apple", "banana", "cherry", "date", "fig", "grape", "lemon", "melon", "orange"}

// wqManifest reads an example manifest and applies literal replacements
// (old, new pairs), failing if one does not occur: a replacement that no
// longer matches would silently test the unmodified example.
func wqManifest(t *testing.T, file string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("%s: %q not found", file, replace[i])
		}
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	return s
}

// wqWorkerBin is the rediswq-worker built next to the batchlet binary.
func wqWorkerBin(t *testing.T) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(batchletBin), "rediswq-worker")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("rediswq-worker is not next to %s: %v", batchletBin, err)
	}
	return p
}

// wqProcessed extracts the items named by lines matching re (one capture
// group), sorted.
func wqProcessed(logs string, re *regexp.Regexp) []string {
	var got []string
	for _, m := range re.FindAllStringSubmatch(logs, -1) {
		got = append(got, m[1])
	}
	sort.Strings(got)
	return got
}

// wqSorted returns a sorted copy of items.
func wqSorted(items []string) []string {
	s := append([]string(nil), items...)
	sort.Strings(s)
	return s
}

// wqRunPod runs script in a one-off pod (kubectl run --restart=Never, as a
// user would) and returns its log once it has succeeded.
func wqRunPod(t *testing.T, c *cluster, ns, name, image, timeout, script string, env ...string) string {
	t.Helper()
	args := []string{"run", name, "-n", ns, "--image=" + image, "--restart=Never"}
	for _, e := range env {
		args = append(args, "--env="+e)
	}
	c.mustKubectl(t, append(args, "--command", "--", "sh", "-c", script)...)
	if _, err := c.kubectl(t, "wait", "-n", ns, "--for=jsonpath={.status.phase}=Succeeded", "--timeout="+timeout, "pod/"+name); err != nil {
		phase, _ := c.kubectl(t, "get", "pod", name, "-n", ns, "-o", "jsonpath={.status.phase}")
		logs, _ := c.kubectl(t, "logs", "-n", ns, name)
		t.Fatalf("pod %s did not succeed (phase %q): %v\nlogs:\n%s", name, phase, err, logs)
	}
	return c.mustKubectl(t, "logs", "-n", ns, name)
}
