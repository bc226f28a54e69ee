package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("pod isolation (mount, UTS and PID namespaces, cgroups) needs root")
	}
}

// jobPodLogs returns the logs of a Job's pods in completion-index order.
func jobPodLogs(t *testing.T, ns, job string, completions int) []string {
	t.Helper()
	out := make([]string, completions)
	for i := range out {
		name := strings.TrimSpace(shared.mustKubectl(t, "get", "pods", "-n", ns,
			"--selector=job-name="+job+",batch.kubernetes.io/job-completion-index="+itoa(i),
			"--output=jsonpath={.items[0].metadata.name}"))
		out[i] = strings.TrimSpace(shared.mustKubectl(t, "logs", "-n", ns, name))
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestIndexedJobTutorial runs both variants of the Indexed Job tutorial:
// the init container writing into an emptyDir (each worker reverses its
// word), and the downwardAPI volume (each worker reverses the one-digit
// index the volume holds, as in the tutorial).
func TestIndexedJobTutorial(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct{ ns, manifest, want string }{
		{"e2e-indexed", "indexed-job.yaml", "oof rab zab xuq zyx"},
		{"e2e-indexed-downward", "indexed-job-downward.yaml", "0 1 2 3 4"},
	} {
		t.Run(tc.manifest, func(t *testing.T) {
			shared.mustKubectl(t, "create", "namespace", tc.ns)
			shared.mustKubectl(t, "apply", "-n", tc.ns, "-f", seed(tc.manifest))
			shared.mustKubectl(t, "wait", "-n", tc.ns, "--for=condition=complete", "--timeout=120s", "job/indexed-job")
			got := strings.Join(jobPodLogs(t, tc.ns, "indexed-job", 5), " ")
			if got != tc.want {
				t.Fatalf("logs in index order = %q, want %q", got, tc.want)
			}
			if _, err := os.Stat("/input"); !os.IsNotExist(err) {
				t.Fatalf("/input appeared on the host: %v", err)
			}
		})
	}
}

// TestPodToPodTutorial: three pods of an Indexed Job with a headless
// Service as subdomain ping each other by hostname through cluster DNS.
func TestPodToPodTutorial(t *testing.T) {
	needRoot(t)
	if _, err := os.Stat("/usr/bin/ping"); err != nil {
		t.Skip("ping is not installed (scripts/install-deps.sh installs iputils-ping)")
	}
	ns := "e2e-pod-to-pod"
	shared.mustKubectl(t, "create", "namespace", ns)
	shared.mustKubectl(t, "apply", "-n", ns, "-f", seed("pod-to-pod.yaml"))
	if _, err := shared.kubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=120s", "job/example-job"); err != nil {
		pods, _ := shared.kubectl(t, "get", "pods", "-n", ns, "-o", "wide")
		logs, _ := shared.kubectl(t, "logs", "-n", ns, "-l", "job-name=example-job", "--prefix", "--tail=5")
		t.Fatalf("job/example-job did not complete: %v\n%s\n%s", err, pods, logs)
	}
	for i, log := range jobPodLogs(t, ns, "example-job", 3) {
		for j := 0; j < 3; j++ {
			want := "Successfully pinged pod: example-job-" + itoa(j) + ".headless-svc"
			if !strings.Contains(log, want) {
				t.Errorf("pod %d log lacks %q:\n%s", i, want, log)
			}
		}
	}
}

const oomPod = `apiVersion: v1
kind: Pod
metadata:
  name: hog
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: debian
    command: ["sh", "-c", "head -c 209715200 /dev/zero | tail > /dev/null"]
    resources:
      limits:
        memory: 50Mi
`

// TestOOMKilled: a pod over its memory limit is killed by the kernel and
// reported as OOMKilled with exit code 137.
func TestOOMKilled(t *testing.T) {
	needRoot(t)
	ns := "e2e-oom"
	shared.mustKubectl(t, "create", "namespace", ns)
	if _, err := shared.kubectlIn(t, oomPod, "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "pod hog OOMKilled", func() (bool, string) {
		out, err := shared.kubectl(t, "get", "pod", "hog", "-n", ns, "--no-headers")
		return err == nil && strings.Contains(out, "OOMKilled"), out
	})
	code := shared.mustKubectl(t, "get", "pod", "hog", "-n", ns,
		"--output=jsonpath={.status.containerStatuses[0].state.terminated.exitCode} {.status.containerStatuses[0].state.terminated.reason}")
	if code != "137 OOMKilled" {
		t.Fatalf("terminated = %q, want \"137 OOMKilled\"", code)
	}
}

const configPod = `apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  restartPolicy: Never
  containers:
  - name: reader
    image: debian
    command: ["sh", "-c", "cat /etc/cfg/color /etc/sec/password; echo \" $COLOR $PASSWORD\""]
    env:
    - name: COLOR
      valueFrom:
        configMapKeyRef: {name: settings, key: color}
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {name: creds, key: password}
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg, readOnly: true}
    - {name: sec, mountPath: /etc/sec, readOnly: true}
  volumes:
  - name: cfg
    configMap: {name: settings}
  - name: sec
    secret: {secretName: creds}
`

// TestConfigMapAndSecret: a pod reads a ConfigMap and a Secret both as
// files and as environment variables.
func TestConfigMapAndSecret(t *testing.T) {
	needRoot(t)
	ns := "e2e-config"
	shared.mustKubectl(t, "create", "namespace", ns)
	shared.mustKubectl(t, "create", "configmap", "settings", "-n", ns, "--from-literal=color=blue")
	shared.mustKubectl(t, "create", "secret", "generic", "creds", "-n", ns, "--from-literal=password=s3cret")
	if _, err := shared.kubectlIn(t, configPod, "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatal(err)
	}
	shared.mustKubectl(t, "wait", "-n", ns, "--for=jsonpath={.status.phase}=Succeeded", "--timeout=60s", "pod/reader")
	if got := strings.TrimSpace(shared.mustKubectl(t, "logs", "-n", ns, "reader")); got != "blues3cret blue s3cret" {
		t.Fatalf("log = %q, want %q", got, "blues3cret blue s3cret")
	}
	if _, err := os.Stat("/etc/cfg"); !os.IsNotExist(err) {
		t.Fatalf("/etc/cfg appeared on the host: %v", err)
	}
}
