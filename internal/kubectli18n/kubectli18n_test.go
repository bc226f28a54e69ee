package kubectli18n

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"k8s.io/kubectl/pkg/util/i18n"
)

func TestIsKubectl(t *testing.T) {
	cases := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"/usr/bin/batchlet", "server"}, false},
		{[]string{"/usr/bin/batchlet", "kubectl", "get", "pods"}, true},
		{[]string{"/usr/local/bin/kubectl", "get"}, true},
		{[]string{"batchlet"}, false},
	}
	for _, c := range cases {
		if got := IsKubectl(c.args); got != c.want {
			t.Errorf("IsKubectl(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// translateIn runs this test binary as a process named argv0 with a German
// locale and returns what i18n.T made of a kubectl help text there.
func translateIn(t *testing.T, argv0 string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run", "^TestTranslateChild$")
	cmd.Env = append(os.Environ(), "KUBECTLI18N_ARGV0="+argv0, "LANG=de_DE.UTF-8", "LC_ALL=", "LC_MESSAGES=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	text, _, _ := strings.Cut(string(out), "\n")
	return text
}

const helpText = "Display one or many resources"

func TestTranslateChild(t *testing.T) {
	argv0 := os.Getenv("KUBECTLI18N_ARGV0")
	if argv0 == "" {
		t.Skip("run by the tests below")
	}
	os.Args[0] = argv0
	os.Stdout.WriteString(i18n.T(helpText) + "\n")
}

func TestKubectlLoadsCatalogue(t *testing.T) {
	if got := translateIn(t, "kubectl"); got == helpText || !strings.HasPrefix(got, "Zeige") {
		t.Fatalf("kubectl with LANG=de_DE did not translate: %q", got)
	}
}

func TestOtherProcessesKeepEnglish(t *testing.T) {
	if got := translateIn(t, "batchlet"); got != helpText {
		t.Fatalf("a batchlet process loaded the catalogue: %q", got)
	}
}
