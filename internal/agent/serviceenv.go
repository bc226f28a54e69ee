package agent

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// serviceEnv is what enableServiceLinks gives a container: the variables
// of every Service with a cluster IP in the pod's namespace, and those of
// the master Service default/kubernetes in any case, as kubelet does.
func serviceEnv(lister corelisters.ServiceLister, pod *corev1.Pod) map[string]string {
	out := map[string]string{}
	if lister == nil {
		return out
	}
	byName := map[string]*corev1.Service{}
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		svcs, _ := lister.Services(pod.Namespace).List(labels.Everything())
		for _, s := range svcs {
			byName[s.Name] = s
		}
	}
	if master, err := lister.Services(corev1.NamespaceDefault).Get("kubernetes"); err == nil {
		byName["kubernetes"] = master
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		addServiceVars(out, byName[n])
	}
	return out
}

func addServiceVars(out map[string]string, s *corev1.Service) {
	ip := s.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone || len(s.Spec.Ports) == 0 {
		return
	}
	name := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
	first := s.Spec.Ports[0]
	out[name+"_SERVICE_HOST"] = ip
	out[name+"_SERVICE_PORT"] = strconv.Itoa(int(first.Port))
	for _, p := range s.Spec.Ports {
		if p.Name != "" {
			out[name+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))] = strconv.Itoa(int(p.Port))
		}
	}
	out[name+"_PORT"] = portURL(first, ip)
	for _, p := range s.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		prefix := fmt.Sprintf("%s_PORT_%d_%s", name, p.Port, strings.ToUpper(proto))
		out[prefix] = portURL(p, ip)
		out[prefix+"_PROTO"] = strings.ToLower(proto)
		out[prefix+"_PORT"] = strconv.Itoa(int(p.Port))
		out[prefix+"_ADDR"] = ip
	}
}

func portURL(p corev1.ServicePort, ip string) string {
	proto := string(p.Protocol)
	if proto == "" {
		proto = string(corev1.ProtocolTCP)
	}
	host := ip
	if strings.Contains(ip, ":") {
		host = "[" + ip + "]"
	}
	return fmt.Sprintf("%s://%s:%d", strings.ToLower(proto), host, p.Port)
}
