package apiserver

import (
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/batchlet/batchlet/internal/apiserver/nodeproxy"
)

// podProxySubresource returns the handler of log, exec and attach, which
// are served by the pod's node agent.
func (s *server) podProxySubresource(name, method string) subresourceHandler {
	switch {
	case name == "log" && method == http.MethodGet:
		return func(w http.ResponseWriter, r *http.Request, rq *request) {
			s.proxyToNode(w, r, rq, "containerLogs", false)
		}
	case (name == "exec" || name == "attach") && (method == http.MethodGet || method == http.MethodPost):
		return func(w http.ResponseWriter, r *http.Request, rq *request) { s.proxyToNode(w, r, rq, name, true) }
	}
	return nil
}

// proxyToNode forwards a pod subresource request to
// /<agentPath>/<ns>/<pod>/<container> on the pod's node.
func (s *server) proxyToNode(w http.ResponseWriter, r *http.Request, rq *request, agentPath string, keepContainerParam bool) {
	obj, err := s.getObject(r, rq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		s.writeError(w, r, apierrors.NewInternalError(fmt.Errorf("stored object is %T, not a pod", obj)))
		return
	}
	query := r.URL.Query()
	container, err := podContainer(pod, query.Get("container"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if pod.Spec.NodeName == "" {
		s.writeError(w, r, badRequestf("pod %s does not have a host assigned", pod.Name))
		return
	}
	node, err := s.getNode(r, pod.Spec.NodeName)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !keepContainerParam {
		query.Del("container")
	}
	target, err := nodeproxy.Location(node, "/"+agentPath+"/"+pod.Namespace+"/"+pod.Name+"/"+container, query)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	nodeproxy.Serve(w, r, target, s.cfg.NodeTransport)
}

// podContainer resolves the container a request names, defaulting to the
// only one.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	var names, initNames []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.InitContainers {
		initNames = append(initNames, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		initNames = append(initNames, c.Name)
	}
	if name == "" {
		if len(names) == 1 {
			return names[0], nil
		}
		return "", badRequestf("a container name must be specified for pod %s, choose one of: %v", pod.Name, names)
	}
	if contains(names, name) || contains(initNames, name) {
		return name, nil
	}
	return "", badRequestf("container %s is not valid for pod %s", name, pod.Name)
}

// getNode reads a node object.
func (s *server) getNode(r *http.Request, name string) (*corev1.Node, error) {
	res := s.lookup(schema.GroupVersion{Version: "v1"}, "nodes")
	if res == nil {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, name)
	}
	obj, err := s.store.Get(r.Context(), StorageKey(res.Resource, "", name))
	if err != nil {
		return nil, storageError(err, res.gr, name)
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("stored object is %T, not a node", obj))
	}
	return node, nil
}
