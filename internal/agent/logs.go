package agent

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/batchlet/batchlet/internal/runtime/logfile"
)

// apiServer is the agent API, at kubelet's paths, for the apiserver's
// proxying.
func (a *Agent) apiServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", a.serveLogs)
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /exec/{namespace}/{pod}/{container}", a.serveExec)
		mux.HandleFunc(m+" /attach/{namespace}/{pod}/{container}", a.serveAttach)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	var handler http.Handler = mux
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{a.tlsCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    a.cfg.ClientCA,
		MinVersion:   tls.VersionTLS12,
		// Streaming upgrades need HTTP/1.1.
		NextProtos: []string{"http/1.1"},
	}
	if a.cfg.ClientCA == nil {
		// Without a CA nothing can be authenticated: refuse everything.
		tlsCfg.ClientAuth = tls.RequestClientCert
		handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "Forbidden: the agent has no client CA configured", http.StatusForbidden)
		})
	}
	return &http.Server{Handler: handler, TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second}
}

func (a *Agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, name, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	pod, err := a.podLister.Pods(ns).Get(name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			http.Error(w, fmt.Sprintf("pod %s/%s not found", ns, name), http.StatusNotFound)
			return
		}
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if !hasContainer(pod, container) {
		http.Error(w, fmt.Sprintf("container %s is not valid for pod %s", container, name), http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	opts := logfile.Options{TailLines: -1, Follow: q.Get("follow") == "true", Timestamps: q.Get("timestamps") == "true"}
	if v := q.Get("tailLines"); v != "" {
		if opts.TailLines, err = strconv.ParseInt(v, 10, 64); err != nil || opts.TailLines < 0 {
			http.Error(w, "invalid tailLines: "+v, http.StatusBadRequest)
			return
		}
	}
	if v := q.Get("limitBytes"); v != "" {
		if opts.LimitBytes, err = strconv.ParseInt(v, 10, 64); err != nil || opts.LimitBytes <= 0 {
			http.Error(w, "invalid limitBytes: "+v, http.StatusBadRequest)
			return
		}
	}
	if v := q.Get("sinceSeconds"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs <= 0 {
			http.Error(w, "invalid sinceSeconds: "+v, http.StatusBadRequest)
			return
		}
		opts.SinceTime = time.Now().Add(-time.Duration(secs) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		if opts.SinceTime, err = time.Parse(time.RFC3339, v); err != nil {
			http.Error(w, "invalid sinceTime: "+v, http.StatusBadRequest)
			return
		}
	}

	dir := a.podDir(pod.UID)
	attempts := attemptsOf(dir, a.podRunDir(pod.UID), container)
	if len(attempts) == 0 {
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, name), http.StatusBadRequest)
		return
	}
	n := attempts[len(attempts)-1].n
	previous := q.Get("previous") == "true"
	if previous {
		if len(attempts) < 2 || attempts[len(attempts)-2].n != n-1 {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", container, name), http.StatusBadRequest)
			return
		}
		n--
		opts.Follow = false
	}
	path := attemptLog(dir, container, n)
	if _, err := os.Stat(path); err != nil {
		// Started, but nothing logged yet.
		if f, cerr := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o640); cerr == nil {
			f.Close()
		}
	}
	uid := pod.UID
	opts.Done = func() bool {
		wk := a.worker(uid)
		if wk == nil {
			return true
		}
		la, ok := wk.logAttempt(container)
		return !ok || la.n != n || !la.running
	}
	var out io.Writer = w
	if f, ok := w.(http.Flusher); ok {
		opts.Flush = f.Flush
		if opts.Follow {
			// A follower must see what the log already holds before the
			// next line arrives, which may be never.
			out = flushWriter{w: w, f: f}
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	if err := logfile.Copy(r.Context(), out, path, opts); err != nil {
		fmt.Fprintf(w, "\nerror reading log: %v\n", err)
	}
}

// flushWriter sends every write to the client at once.
type flushWriter struct {
	w io.Writer
	f http.Flusher
}

func (fw flushWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	fw.f.Flush()
	return n, err
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if c.Name == name {
				return true
			}
		}
	}
	return false
}
