package e2e

import (
	"strings"
	"testing"
	"time"
)

// agentE2EStatusPods each end up in one STATUS that kubectl prints.
const agentE2EStatusPods = `apiVersion: v1
kind: Pod
metadata: {name: st-completed}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: ["true"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: st-error}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: ["sh", "-c", "exit 2"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: st-crashloop}
spec:
  restartPolicy: Always
  containers: [{name: c, image: busybox, command: ["sh", "-c", "exit 1"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: st-init-running}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  initContainers: [{name: i, image: busybox, command: ["sleep", "600"]}]
  containers: [{name: c, image: busybox, command: ["true"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: st-init-error}
spec:
  restartPolicy: Never
  initContainers: [{name: i, image: busybox, command: ["sh", "-c", "exit 5"]}]
  containers: [{name: c, image: busybox, command: ["true"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: st-terminating}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 300
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "trap 'echo got TERM' TERM; while true; do sleep 0.2; done"]
`

// TestAgentPodStatusColumn: `kubectl get pods` shows kubectl's own STATUS
// strings for pods the agent runs.
func TestAgentPodStatusColumn(t *testing.T) {
	ns := agentE2ENamespace(t, shared, "e2e-agent-status")
	agentE2EApply(t, shared, ns, agentE2EStatusPods)
	for pod, want := range map[string]string{
		"st-completed":    "Completed",
		"st-error":        "Error",
		"st-crashloop":    "CrashLoopBackOff",
		"st-init-running": "Init:0/1",
		"st-init-error":   "Init:Error",
	} {
		agentE2EWaitStatus(t, shared, ns, pod, want)
	}

	agentE2EWaitRunning(t, shared, ns, "st-terminating")
	shared.mustKubectl(t, "delete", "pod", "st-terminating", "-n", ns, "--wait=false")
	agentE2EWaitStatus(t, shared, ns, "st-terminating", "Terminating")
	// The trap ran: the process got SIGTERM and keeps its grace period.
	eventually(t, 30*time.Second, "the TERM trap in the log", func() (bool, string) {
		out, err := shared.kubectl(t, "logs", "-n", ns, "st-terminating")
		return err == nil && strings.Contains(out, "got TERM"), out
	})
	shared.mustKubectl(t, "delete", "pod", "st-terminating", "-n", ns, "--grace-period=0", "--force")
}
