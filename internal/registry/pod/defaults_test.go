package pod

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestSetDefaultsPod(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{
			{Name: "a", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 80}},
				Env:           []corev1.EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{}}},
				Resources:     corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}},
			{Name: "b", Image: "busybox:1.28"},
			{Name: "c", Image: "bash:latest"},
			{Name: "d", Image: "localhost:5000/img"},
			{Name: "e", Image: "img@sha256:abcd"},
		},
		Volumes: []corev1.Volume{
			{Name: "v1"},
			{Name: "v2", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
			{Name: "v3", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{}}},
		},
	}}
	SetDefaultsPod(pod)
	s := pod.Spec
	checks := []struct {
		name      string
		got, want any
	}{
		{"restartPolicy", s.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", s.DNSPolicy, corev1.DNSClusterFirst},
		{"grace", *s.TerminationGracePeriodSeconds, int64(30)},
		{"scheduler", s.SchedulerName, "default-scheduler"},
		{"securityContext", s.SecurityContext != nil, true},
		{"enableServiceLinks", *s.EnableServiceLinks, true},
		{"pull untagged", s.Containers[0].ImagePullPolicy, corev1.PullAlways},
		{"pull tagged", s.Containers[1].ImagePullPolicy, corev1.PullIfNotPresent},
		{"pull latest", s.Containers[2].ImagePullPolicy, corev1.PullAlways},
		{"pull registry port", s.Containers[3].ImagePullPolicy, corev1.PullAlways},
		{"pull digest", s.Containers[4].ImagePullPolicy, corev1.PullIfNotPresent},
		{"termination path", s.Containers[0].TerminationMessagePath, "/dev/termination-log"},
		{"termination policy", s.Containers[0].TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"port protocol", s.Containers[0].Ports[0].Protocol, corev1.ProtocolTCP},
		{"fieldRef apiVersion", s.Containers[0].Env[0].ValueFrom.FieldRef.APIVersion, "v1"},
		{"probe timeout", s.Containers[0].LivenessProbe.TimeoutSeconds, int32(1)},
		{"probe period", s.Containers[0].LivenessProbe.PeriodSeconds, int32(10)},
		{"probe success", s.Containers[0].LivenessProbe.SuccessThreshold, int32(1)},
		{"probe failure", s.Containers[0].LivenessProbe.FailureThreshold, int32(3)},
		{"httpGet path", s.Containers[0].LivenessProbe.HTTPGet.Path, "/"},
		{"httpGet scheme", s.Containers[0].LivenessProbe.HTTPGet.Scheme, corev1.URISchemeHTTP},
		{"requests from limits", s.Containers[0].Resources.Requests.Cpu().String(), "1"},
		{"emptyDir default", s.Volumes[0].EmptyDir != nil, true},
		{"configMap mode", *s.Volumes[1].ConfigMap.DefaultMode, int32(0o644)},
		{"downwardAPI mode", *s.Volumes[2].DownwardAPI.DefaultMode, int32(0o644)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestTemplateDefaultsOmitPodOnlyFields(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	SetDefaultsPodTemplateSpec(tmpl)
	if tmpl.Spec.EnableServiceLinks != nil {
		t.Errorf("templates must not get enableServiceLinks")
	}
	if tmpl.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("restartPolicy = %q", tmpl.Spec.RestartPolicy)
	}
}

func TestCreateAdmissionDefaults(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
	}}
	applyCreateAdmission(pod)
	if pod.Spec.Priority == nil || *pod.Spec.Priority != 0 {
		t.Errorf("priority = %v", pod.Spec.Priority)
	}
	if pod.Spec.ServiceAccountName != "default" {
		t.Errorf("serviceAccountName = %q", pod.Spec.ServiceAccountName)
	}
	if len(pod.Spec.Tolerations) != 2 {
		t.Fatalf("tolerations = %+v, want the user's unreachable one plus not-ready", pod.Spec.Tolerations)
	}
	nr := pod.Spec.Tolerations[1]
	if nr.Key != corev1.TaintNodeNotReady || *nr.TolerationSeconds != 300 || nr.Effect != corev1.TaintEffectNoExecute {
		t.Errorf("not-ready toleration = %+v", nr)
	}
}
