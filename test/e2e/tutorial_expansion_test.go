package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"text/template"
)

// TestTutorialExpansion creates one Job per item from job-tmpl.yaml as the
// user does with sed, then the multi-document variant through a template.
func TestTutorialExpansion(t *testing.T) {
	t.Parallel()
	c := shared
	ns := namespace(t, c, "tut-expansion")

	// for i in apple banana cherry; do sed "s/\$ITEM/$i/" job-tmpl.yaml > jobs/job-$i.yaml; done
	tmpl, err := os.ReadFile(example("expansion", "job-tmpl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	jobs := filepath.Join(t.TempDir(), "jobs")
	if err := os.Mkdir(jobs, 0o755); err != nil {
		t.Fatal(err)
	}
	items := []string{"apple", "banana", "cherry"}
	for _, i := range items {
		if err := os.WriteFile(filepath.Join(jobs, "job-"+i+".yaml"), []byte(strings.ReplaceAll(string(tmpl), "$ITEM", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := c.mustKubectl(t, "create", "-n", ns, "-f", jobs)
	for _, i := range items {
		if !strings.Contains(out, "job.batch/process-item-"+i+" created") {
			t.Fatalf("create -f ./jobs printed:\n%s", out)
		}
	}
	table := c.mustKubectl(t, "get", "jobs", "-n", ns, "-l", "jobgroup=jobexample")
	for _, i := range items {
		if !regexp.MustCompile(`(?m)^process-item-` + i + `\s+(Running|Complete)\s+[01]/1\s+`).MatchString(table) {
			t.Errorf("get jobs -l lacks %s:\n%s", i, table)
		}
	}
	pods := c.mustKubectl(t, "get", "pods", "-n", ns, "-l", "jobgroup=jobexample")
	for _, i := range items {
		if !regexp.MustCompile(`(?m)^process-item-` + i + `-[a-z0-9]{5}\s+`).MatchString(pods) {
			t.Errorf("get pods -l lacks %s:\n%s", i, pods)
		}
	}
	// logs -f follows every pod until its container ends.
	logs := strings.Split(strings.TrimSpace(c.mustKubectl(t, "logs", "-n", ns, "-f", "-l", "jobgroup=jobexample")), "\n")
	sort.Strings(logs)
	if strings.Join(logs, "|") != "Processing item apple|Processing item banana|Processing item cherry" {
		t.Errorf("logs -f -l printed %q", logs)
	}
	out = c.mustKubectl(t, "delete", "job", "-n", ns, "-l", "jobgroup=jobexample")
	for _, i := range items {
		if !strings.Contains(out, `job.batch "process-item-`+i+`" deleted`) {
			t.Errorf("delete job -l printed:\n%s", out)
		}
	}

	// The multi-document variant: render job.yaml.tmpl with params.json as
	// examples/expansion/render does, and pipe it into kubectl apply -f -.
	manifest := renderTemplate(t, example("expansion", "job.yaml.tmpl"), example("expansion", "params.json"))
	out = c.kubectlInOrFail(t, manifest, "apply", "-n", ns, "-f", "-")
	for _, i := range items {
		if !strings.Contains(out, "job.batch/jobexample-"+i+" created") {
			t.Fatalf("apply -f - printed:\n%s", out)
		}
	}
	c.mustKubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=60s", "job", "-l", "jobgroup=jobexample")
	logs = strings.Split(strings.TrimSpace(c.mustKubectl(t, "logs", "-n", ns, "-l", "jobgroup=jobexample")), "\n")
	sort.Strings(logs)
	want := "Processing URL http://dbpedia.org/resource/Apple|Processing URL http://dbpedia.org/resource/Banana|Processing URL http://dbpedia.org/resource/Cherry"
	if strings.Join(logs, "|") != want {
		t.Errorf("logs of the rendered jobs: %q", logs)
	}
	c.mustKubectl(t, "delete", "job", "-n", ns, "-l", "jobgroup=jobexample")
}

func renderTemplate(t *testing.T, tmplPath, paramsPath string) string {
	t.Helper()
	tmpl, err := template.ParseFiles(tmplPath)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(paramsPath)
	if err != nil {
		t.Fatal(err)
	}
	var params []map[string]any
	if err := json.Unmarshal(raw, &params); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, params); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func (c *cluster) kubectlInOrFail(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := c.kubectlIn(t, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
