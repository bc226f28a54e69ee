package sandbox

import (
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
)

// CheckPod returns an *UnsupportedError for the first field of pod that a
// node cannot honour, isolated telling whether it runs containers in
// their own namespaces (see Spec.Namespaces). The pod must then fail with
// that reason rather than run with the field ignored: without a UTS
// namespace the container would see the host's hostname, and the process
// runtime does not switch users.
func CheckPod(pod *corev1.Pod, isolated bool) error {
	const noUTS = "the pod's hostname needs a UTS namespace, which this node cannot create (requires running as root on Linux)"
	spec := &pod.Spec
	// A pod on the host network has the node's hostname in Kubernetes too.
	if !isolated && !spec.HostNetwork {
		switch {
		case spec.Hostname != "":
			return &UnsupportedError{Field: "spec.hostname", Message: noUTS}
		case spec.Subdomain != "":
			return &UnsupportedError{Field: "spec.subdomain", Message: noUTS}
		case spec.SetHostnameAsFQDN != nil && *spec.SetHostnameAsFQDN:
			return &UnsupportedError{Field: "spec.setHostnameAsFQDN", Message: noUTS}
		}
	}
	if isolated {
		switch {
		case spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace:
			return &UnsupportedError{Field: "spec.shareProcessNamespace", Message: "containers of a pod get separate PID namespaces in the process runtime"}
		case spec.HostPID:
			return &UnsupportedError{Field: "spec.hostPID", Message: "isolated containers get their own PID namespace in the process runtime"}
		case spec.HostIPC:
			return &UnsupportedError{Field: "spec.hostIPC", Message: "isolated containers get their own IPC namespace in the process runtime"}
		}
	}
	if sc := spec.SecurityContext; sc != nil {
		if err := checkIdentity("spec.securityContext", sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot); err != nil {
			return err
		}
		if len(sc.SupplementalGroups) > 0 {
			return &UnsupportedError{Field: "spec.securityContext.supplementalGroups", Message: "the process runtime does not switch groups"}
		}
	}
	for _, list := range []struct {
		field string
		ctrs  []corev1.Container
	}{{"spec.initContainers", spec.InitContainers}, {"spec.containers", spec.Containers}} {
		for i, c := range list.ctrs {
			sc := c.SecurityContext
			if sc == nil {
				continue
			}
			f := fmt.Sprintf("%s[%d].securityContext", list.field, i)
			if err := checkIdentity(f, sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot); err != nil {
				return err
			}
			if sc.Privileged != nil && *sc.Privileged && os.Geteuid() != 0 {
				return &UnsupportedError{Field: f + ".privileged", Message: "privileged containers need the node to run as root"}
			}
		}
	}
	return nil
}

// checkIdentity accepts a user and group only when they are the ones the
// runtime runs containers as: its own.
func checkIdentity(field string, user, group *int64, nonRoot *bool) error {
	uid, gid := int64(os.Geteuid()), int64(os.Getegid())
	if user != nil && *user != uid {
		return &UnsupportedError{Field: field + ".runAsUser",
			Message: fmt.Sprintf("the process runtime runs containers as the node's user (%d) and cannot run them as %d", uid, *user)}
	}
	if group != nil && *group != gid {
		return &UnsupportedError{Field: field + ".runAsGroup",
			Message: fmt.Sprintf("the process runtime runs containers as the node's group (%d) and cannot run them as %d", gid, *group)}
	}
	if nonRoot != nil && *nonRoot && uid == 0 && (user == nil || *user == 0) {
		return &UnsupportedError{Field: field + ".runAsNonRoot",
			Message: "container has runAsNonRoot and image will run as root: the process runtime runs containers as the node's user"}
	}
	return nil
}
