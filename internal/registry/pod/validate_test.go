package pod

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
)

// Pod templates of the tutorials, as users write them.
var seedTemplates = []string{`
spec:
  containers:
  - name: hello
    image: busybox:1.28
    imagePullPolicy: IfNotPresent
    command: ["/bin/sh", "-c", "date; echo Hello from the Kubernetes cluster"]
  restartPolicy: OnFailure
`, `
metadata:
  name: job-wq-1
spec:
  containers:
  - name: c
    image: gcr.io/<project>/job-wq-1
    env:
    - name: BROKER_URL
      value: amqp://guest:guest@rabbitmq-service:5672
    - name: QUEUE
      value: job1
  restartPolicy: OnFailure
`, `
spec:
  subdomain: headless-svc
  restartPolicy: Never
  containers:
  - name: example-workload
    image: bash:latest
    command: [bash, -c, "echo hi"]
`, `
spec:
  restartPolicy: Never
  initContainers:
  - name: 'input'
    image: 'docker.io/library/bash'
    command: ["bash", "-c", "echo x > /input/data.txt"]
    volumeMounts:
    - mountPath: /input
      name: input
  containers:
  - name: 'worker'
    image: 'docker.io/library/busybox'
    command: ["rev", "/input/data.txt"]
    volumeMounts:
    - mountPath: /input
      name: input
  volumes:
  - name: input
    emptyDir: {}
`, `
spec:
  restartPolicy: Never
  containers:
  - name: 'worker'
    image: 'docker.io/library/busybox'
    command: ["rev", "/input/data.txt"]
    volumeMounts:
    - mountPath: /input
      name: input
  volumes:
  - name: input
    downwardAPI:
      items:
      - path: "data.txt"
        fieldRef:
          fieldPath: metadata.annotations['batch.kubernetes.io/job-completion-index']
`, `
metadata:
  labels:
    jobgroup: jobexample
spec:
  containers:
  - name: c
    image: busybox:1.28
    command: ["sh", "-c", "echo Processing item apple && sleep 5"]
  restartPolicy: Never
`, `
spec:
  containers:
  - name: master
    image: redis
    env:
    - name: MASTER
      value: "true"
    ports:
    - containerPort: 6379
`, `
spec:
  containers:
  - name: pi
    image: perl:5.34.0
    command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]
    env:
    - name: IDX
      valueFrom:
        fieldRef:
          fieldPath: metadata.labels['batch.kubernetes.io/job-completion-index']
  restartPolicy: Never
`}

func decodeTemplate(t *testing.T, src string) *corev1.PodTemplateSpec {
	t.Helper()
	var tmpl corev1.PodTemplateSpec
	if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(src), 4096).Decode(&tmpl); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &tmpl
}

func TestSeedTemplatesValidate(t *testing.T) {
	for i, src := range seedTemplates {
		tmpl := decodeTemplate(t, src)
		SetDefaultsPodTemplateSpec(tmpl)
		if errs := ValidatePodTemplateSpec(tmpl, field.NewPath("spec", "template")); len(errs) > 0 {
			t.Errorf("template %d: %v", i, errs.ToAggregate())
		}
	}
}

func validPod() *corev1.Pod {
	p := &corev1.Pod{Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		Volumes:    []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}}
	SetDefaultsPod(p)
	return p
}

func TestValidatePod(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string // error strings, in order
	}{
		{"valid", func(*corev1.Pod) {}, nil},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil },
			[]string{"spec.containers: Required value"}},
		{"no image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" },
			[]string{"spec.containers[0].image: Required value"}},
		{"image whitespace", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " busybox" },
			[]string{`spec.containers[0].image: Invalid value: " busybox": must not have leading or trailing whitespace`}},
		{"no name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" },
			[]string{"spec.containers[0].name: Required value"}},
		{"bad name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Web_1" },
			[]string{`spec.containers[0].name: Invalid value: "Web_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		{"duplicate name across init", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{p.Spec.Containers[0]}
		}, []string{`spec.containers[0].name: Duplicate value: "c"`}},
		{"restartPolicy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" },
			[]string{`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`}},
		{"activeDeadlineSeconds", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(0)) },
			[]string{"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"}},
		{"hostname", func(p *corev1.Pod) { p.Spec.Hostname = "a.b" },
			[]string{`spec.hostname: Invalid value: "a.b": must not contain dots`}},
		{"mount of unknown volume", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "nope", MountPath: "/x"}}
		}, []string{`spec.containers[0].volumeMounts[0].name: Not found: "nope"`}},
		{"mount without path", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data"}}
		}, []string{"spec.containers[0].volumeMounts[0].mountPath: Required value"}},
		{"duplicate volume", func(p *corev1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, p.Spec.Volumes[0]) },
			[]string{`spec.volumes[1].name: Duplicate value: "data"`}},
		{"two volume sources", func(p *corev1.Pod) {
			p.Spec.Volumes[0].HostPath = &corev1.HostPathVolumeSource{Path: "/tmp"}
		}, []string{"spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type"}},
		{"port zero", func(p *corev1.Pod) { p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Protocol: "TCP"}} },
			[]string{"spec.containers[0].ports[0].containerPort: Required value"}},
		{"port range", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 70000, Protocol: "TCP"}}
		}, []string{"spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"env name empty", func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Value: "x"}} },
			[]string{"spec.containers[0].env[0].name: Required value"}},
		{"env value and valueFrom", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "x", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}}
		}, []string{"spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"}},
		{"env fieldPath", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.bogus"}}}}
		}, []string{`spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.bogus": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"`}},
		{"requests above limits", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
			}
		}, []string{`spec.containers[0].resources.requests[memory]: Invalid value: "128Mi": must be less than or equal to memory limit of 64Mi`}},
		{"probe without handler", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{TimeoutSeconds: 1, PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
		}, []string{"spec.containers[0].livenessProbe: Required value: must specify a handler type"}},
		{"liveness successThreshold", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
				SuccessThreshold: 2}
		}, []string{"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"}},
		{"toleration value with Exists", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		}, []string{"spec.tolerations[0].operator: Invalid value: {\"key\":\"k\",\"operator\":\"Exists\",\"value\":\"v\"}: value must be empty when `operator` is 'Exists'"}},
		{"tolerationSeconds without NoExecute", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To(int64(5))}}
		}, []string{`spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be 'NoExecute' when ` + "`tolerationSeconds`" + ` is set`}},
		{"nodeSelector", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"a": "b c"} },
			[]string{`spec.nodeSelector: Invalid value: "b c": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"ephemeral on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "e", Image: "x"}}}
		}, []string{"spec.ephemeralContainers: Forbidden: cannot be set on create"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := validPod()
			c.mutate(p)
			errs := strategy{}.Validate(context.Background(), p)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("errors:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestValidatePodUpdate(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*corev1.Pod)
		wantErr string // substring; "" means valid
	}{
		{"image change", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "busybox:2" }, ""},
		{"add toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists})
		}, ""},
		{"set activeDeadlineSeconds", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(10)) }, ""},
		{"change restartPolicy", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever },
			"spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"},
		{"add container", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "d", Image: "x", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"})
		}, "spec.containers: Forbidden: pod updates may not add or remove containers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := validPod()
			p := old.DeepCopy()
			c.mutate(p)
			errs := strategy{}.ValidateUpdate(context.Background(), p, old)
			switch {
			case c.wantErr == "" && len(errs) > 0:
				t.Errorf("unexpected errors: %v", errs)
			case c.wantErr != "" && (len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), c.wantErr)):
				t.Errorf("errors = %v, want prefix %q", errs, c.wantErr)
			}
		})
	}
}

func TestValidatePodStatusUpdate(t *testing.T) {
	old := validPod()
	old.Spec.RestartPolicy = corev1.RestartPolicyNever
	old.Status = corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBestEffort,
		ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}}}
	p := old.DeepCopy()
	p.Status.Phase = "Exploded"
	p.Status.QOSClass = corev1.PodQOSGuaranteed
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	errs := statusStrategy{}.ValidateStatusUpdate(context.Background(), p, old)
	want := []string{
		`status.phase: Unsupported value: "Exploded": supported values: "Pending", "Running", "Succeeded", "Failed", "Unknown"`,
		`status.qosClass: Invalid value: "Guaranteed": field is immutable`,
		"status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state",
	}
	if len(errs) != len(want) {
		t.Fatalf("errors = %v", errs)
	}
	for i := range want {
		if errs[i].Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, errs[i].Error(), want[i])
		}
	}
}
