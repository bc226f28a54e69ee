package sandbox

import (
	"errors"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestCheckPod(t *testing.T) {
	yes := true
	other := int64(os.Geteuid() + 1)
	self := int64(os.Geteuid())
	tests := []struct {
		name     string
		spec     corev1.PodSpec
		isolated bool
		field    string
	}{
		{"plain pod anywhere", corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}, false, ""},
		{"hostname without isolation", corev1.PodSpec{Hostname: "w-0"}, false, "spec.hostname"},
		{"subdomain without isolation", corev1.PodSpec{Subdomain: "svc"}, false, "spec.subdomain"},
		{"fqdn without isolation", corev1.PodSpec{SetHostnameAsFQDN: &yes}, false, "spec.setHostnameAsFQDN"},
		{"hostname on the host network", corev1.PodSpec{HostNetwork: true, Hostname: "w-0"}, false, ""},
		{"hostname isolated", corev1.PodSpec{Hostname: "w-0", Subdomain: "svc"}, true, ""},
		{"shared PID namespace isolated", corev1.PodSpec{ShareProcessNamespace: &yes}, true, "spec.shareProcessNamespace"},
		{"hostPID isolated", corev1.PodSpec{HostPID: true}, true, "spec.hostPID"},
		{"other user", corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsUser: &other}}, true, "spec.securityContext.runAsUser"},
		{"own user", corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{RunAsUser: &self}}, true, ""},
		{"container user", corev1.PodSpec{Containers: []corev1.Container{{Name: "a"},
			{Name: "b", SecurityContext: &corev1.SecurityContext{RunAsUser: &other}}}}, false, "spec.containers[1].securityContext.runAsUser"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPod(&corev1.Pod{Spec: tc.spec}, tc.isolated)
			var ue *UnsupportedError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.field != "" && (!errors.As(err, &ue) || ue.Field != tc.field):
				t.Fatalf("err = %v, want an UnsupportedError for %s", err, tc.field)
			}
			if ue != nil && ue.Reason() != ReasonUnsupported {
				t.Fatalf("reason %q", ue.Reason())
			}
		})
	}
}
