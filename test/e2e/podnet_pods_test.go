package e2e

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchlet/batchlet/internal/network"
)

// podnetManifest is a headless Service and two pods behind it that both
// serve HTTP on port 8080; pod b fetches a's page by a's DNS name.
const podnetManifest = `apiVersion: v1
kind: Service
metadata:
  name: podnet-svc
spec:
  clusterIP: None
  selector:
    app: podnet
  ports:
  - port: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: podnet-a
  labels:
    app: podnet
spec:
  hostname: a
  subdomain: podnet-svc
  containers:
  - name: web
    image: busybox
    command: ["sh", "-c", "echo from-$(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]
    volumeMounts:
    - name: www
      mountPath: /www
  volumes:
  - name: www
    emptyDir: {}
---
apiVersion: v1
kind: Pod
metadata:
  name: podnet-b
  labels:
    app: podnet
spec:
  hostname: b
  subdomain: podnet-svc
  containers:
  - name: web
    image: busybox
    command:
    - sh
    - -c
    - |
      echo from-$(hostname) > /www/index.html
      httpd -f -p 8080 -h /www &
      until printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 a.podnet-svc 8080 | grep from-; do sleep 0.2; done
      wait
    volumeMounts:
    - name: www
      mountPath: /www
  volumes:
  - name: www
    emptyDir: {}
`

// TestPodNetworkPodsShareAPortAndReachEachOtherByName: two pods listen on
// the same port, each at its own address, and one reaches the other by
// its hostname under a headless Service. After the pods are deleted their
// namespaces and addresses are gone from the node.
func TestPodNetworkPodsShareAPortAndReachEachOtherByName(t *testing.T) {
	needRoot(t)
	ns := agentE2ENamespace(t, shared, "e2e-podnet")
	agentE2EApply(t, shared, ns, podnetManifest)
	agentE2EWaitRunning(t, shared, ns, "podnet-a")
	agentE2EWaitRunning(t, shared, ns, "podnet-b")
	eventually(t, 60*time.Second, "podnet-b fetched podnet-a's page", func() (bool, string) {
		out, err := shared.kubectl(t, "logs", "-n", ns, "podnet-b")
		return err == nil && strings.Contains(out, "from-a"), out
	})

	wide := shared.mustKubectl(t, "get", "pods", "-n", ns, "-o", "wide", "--no-headers")
	ips := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(wide), "\n") {
		f := fieldsOf(line)
		if len(f) < 6 {
			t.Fatalf("kubectl get -o wide line %q", line)
		}
		ip := net.ParseIP(f[5])
		if ip == nil || ip.To4() == nil || ip.To4()[0] != 10 || ip.To4()[1] != 244 {
			t.Fatalf("pod IP %q is not from the pod CIDR:\n%s", f[5], wide)
		}
		ips[f[5]] = true
	}
	if len(ips) != 2 {
		t.Fatalf("want two distinct pod IPs:\n%s", wide)
	}
	hostIP := jsonpath(t, shared, ns, "pod/podnet-a", "{.status.hostIP}")
	if ips[hostIP] {
		t.Fatalf("a pod IP is the node's %s:\n%s", hostIP, wide)
	}
	node := jsonpath(t, shared, "", "node/e2e-node", "{.spec.podCIDR} {.metadata.annotations.batchlet\\.io/pod-network}")
	if f := fieldsOf(node); len(f) != 2 || !strings.HasPrefix(f[0], "10.244.") || f[1] != "namespaces" {
		t.Fatalf("node podCIDR and pod-network annotation = %q", node)
	}

	uids := fieldsOf(jsonpath(t, shared, ns, "pods", "{.items[*].metadata.uid}"))
	shared.mustKubectl(t, "delete", "pods", "--all", "-n", ns, "--grace-period=1", "--wait=true", "--timeout=90s")
	for _, uid := range uids {
		nsFile := filepath.Join(network.NamespaceDir(podnetStateDir()), uid)
		eventually(t, 30*time.Second, "namespace of pod "+uid+" removed", func() (bool, string) {
			_, err := os.Stat(nsFile)
			return errors.Is(err, os.ErrNotExist), nsFile
		})
	}
	eventually(t, 30*time.Second, "addresses released", func() (bool, string) {
		dir := filepath.Join(podnetStateDir(), "addresses")
		records, _ := os.ReadDir(dir)
		for _, r := range records {
			data, _ := os.ReadFile(filepath.Join(dir, r.Name()))
			for _, uid := range uids {
				if strings.TrimSpace(string(data)) == uid {
					return false, r.Name() + " still held by " + uid
				}
			}
		}
		return true, ""
	})
}

// podnetStateDir is where the shared cluster's node keeps its pod network.
func podnetStateDir() string {
	return filepath.Join(shared.dataDir, "agent", "network")
}

// TestPodNetworkReleasedWhenAJobPodFinishes: a finished pod keeps its
// object (and its IP in the status) but not its network namespace.
func TestPodNetworkReleasedWhenAJobPodFinishes(t *testing.T) {
	needRoot(t)
	ns := agentE2ENamespace(t, shared, "e2e-podnet-job")
	agentE2EApply(t, shared, ns, `apiVersion: batch/v1
kind: Job
metadata:
  name: once
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "ip -4 -o addr show eth0"]
`)
	shared.mustKubectl(t, "wait", "-n", ns, "--for=condition=complete", "--timeout=90s", "job/once")
	pod := agentE2EJobPod(t, shared, ns, "once")
	ip := jsonpath(t, shared, ns, "pod/"+pod, "{.status.podIP}")
	if logs := shared.mustKubectl(t, "logs", "-n", ns, pod); !strings.Contains(logs, " "+ip+"/") {
		t.Fatalf("the pod's eth0 (%q) does not hold its status.podIP %s", logs, ip)
	}
	uid := jsonpath(t, shared, ns, "pod/"+pod, "{.metadata.uid}")
	nsFile := filepath.Join(network.NamespaceDir(podnetStateDir()), uid)
	eventually(t, 30*time.Second, "finished pod's namespace removed", func() (bool, string) {
		_, err := os.Stat(nsFile)
		return errors.Is(err, os.ErrNotExist), nsFile
	})
	if _, err := os.Stat(filepath.Join(podnetStateDir(), "addresses", ip)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("address %s still recorded after the pod finished: %v", ip, err)
	}
}
