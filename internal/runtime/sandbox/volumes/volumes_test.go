package volumes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchlet/batchlet/internal/runtime/sandbox"
)

type fakeSource struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (f *fakeSource) ConfigMap(_ context.Context, ns, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("configmaps"), name)
}

func (f *fakeSource) Secret(_ context.Context, ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
}

func testPod(vols ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "job-2-abcde", Namespace: "default", UID: "uid-1",
			Labels:      map[string]string{"app": "x", "batch.kubernetes.io/job-completion-index": "2"},
			Annotations: map[string]string{"batch.kubernetes.io/job-completion-index": "2"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			}}},
			Volumes: vols,
		},
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func TestConfigMapItemsAndModes(t *testing.T) {
	src := &fakeSource{cms: map[string]*corev1.ConfigMap{"default/cfg": {
		Data:       map[string]string{"a": "alpha", "b": "beta"},
		BinaryData: map[string][]byte{"bin": {0, 1}},
	}}}
	pod := testPod(
		corev1.Volume{Name: "all", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, DefaultMode: ptr.To[int32](0o600)}}},
		corev1.Volume{Name: "items", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
			Items:                []corev1.KeyToPath{{Key: "a", Path: "sub/dir/a.txt", Mode: ptr.To[int32](0o400)}, {Key: "b", Path: "b.txt"}}}}},
	)
	dir := t.TempDir()
	vols, err := SetUp(context.Background(), pod, Options{Dir: dir, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	all := vols["all"].Path
	if got := readFile(t, filepath.Join(all, "a")); got != "alpha" {
		t.Errorf("a = %q", got)
	}
	if got := readFile(t, filepath.Join(all, "bin")); got != "\x00\x01" {
		t.Errorf("bin = %q", got)
	}
	if m := mode(t, filepath.Join(all, "b")); m != 0o600 {
		t.Errorf("defaultMode: got %o", m)
	}
	items := vols["items"].Path
	if got := readFile(t, filepath.Join(items, "sub/dir/a.txt")); got != "alpha" {
		t.Errorf("item a = %q", got)
	}
	if m := mode(t, filepath.Join(items, "sub/dir/a.txt")); m != 0o400 {
		t.Errorf("item mode: got %o", m)
	}
	if m := mode(t, filepath.Join(items, "b.txt")); m != 0o644 {
		t.Errorf("default mode: got %o", m)
	}
	if _, err := os.Stat(filepath.Join(items, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unlisted key projected: %v", err)
	}
	if target, err := os.Readlink(filepath.Join(items, "b.txt")); err != nil || target != "..data/b.txt" {
		t.Errorf("b.txt link = %q, %v", target, err)
	}
}

func TestConfigMapUpdateIsAtomicSwap(t *testing.T) {
	cm := &corev1.ConfigMap{Data: map[string]string{"a": "1", "b": "2"}}
	src := &fakeSource{cms: map[string]*corev1.ConfigMap{"default/cfg": cm}}
	pod := testPod(corev1.Volume{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}})
	dir := t.TempDir()
	opts := Options{Dir: dir, Source: src}
	vols, err := SetUp(context.Background(), pod, opts)
	if err != nil {
		t.Fatal(err)
	}
	vdir := vols["c"].Path
	first, _ := os.Readlink(filepath.Join(vdir, dataLink))
	if err := Update(context.Background(), pod, opts); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(vdir, dataLink)); again != first {
		t.Errorf("unchanged data rewrote the payload: %s -> %s", first, again)
	}
	cm.Data = map[string]string{"a": "10", "c": "3"}
	if err := Update(context.Background(), pod, opts); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(vdir, "a")); got != "10" {
		t.Errorf("a after update = %q", got)
	}
	if got := readFile(t, filepath.Join(vdir, "c")); got != "3" {
		t.Errorf("c after update = %q", got)
	}
	if _, err := os.Lstat(filepath.Join(vdir, "b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed key still visible: %v", err)
	}
	if _, err := os.Stat(filepath.Join(vdir, first)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old payload directory left behind: %v", err)
	}
}

func TestMissingSources(t *testing.T) {
	cmVol := func(opt *bool, items ...corev1.KeyToPath) corev1.Volume {
		return corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Optional: opt, Items: items}}}
	}
	secVol := corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}
	present := &fakeSource{cms: map[string]*corev1.ConfigMap{"default/cfg": {Data: map[string]string{"a": "1"}}}}
	cases := []struct {
		name    string
		vol     corev1.Volume
		src     Source
		wantErr string
	}{
		{"missing configmap", cmVol(nil), &fakeSource{}, `MountVolume.SetUp failed for volume "v" : configmap "cfg" not found`},
		{"optional configmap", cmVol(ptr.To(true)), &fakeSource{}, ""},
		{"missing key", cmVol(nil, corev1.KeyToPath{Key: "zz", Path: "zz"}), present, `MountVolume.SetUp failed for volume "v" : configmap references non-existent config key: zz`},
		{"optional missing key", cmVol(ptr.To(true), corev1.KeyToPath{Key: "zz", Path: "zz"}), present, ""},
		{"missing secret", secVol, &fakeSource{}, `MountVolume.SetUp failed for volume "v" : secret "s" not found`},
		{"escaping path", cmVol(nil, corev1.KeyToPath{Key: "a", Path: "../x"}), present, `MountVolume.SetUp failed for volume "v" : invalid path "../x": must not contain '..'`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SetUp(context.Background(), testPod(tc.vol), Options{Dir: t.TempDir(), Source: tc.src})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("error = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestSecretValues(t *testing.T) {
	src := &fakeSource{secrets: map[string]*corev1.Secret{"default/s": {Data: map[string][]byte{"password": []byte("hunter2")}}}}
	pod := testPod(corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: "s", DefaultMode: ptr.To[int32](0o440)}}})
	vols, err := SetUp(context.Background(), pod, Options{Dir: t.TempDir(), Source: src})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(vols["s"].Path, "password")
	if got := readFile(t, p); got != "hunter2" {
		t.Errorf("password = %q", got)
	}
	if m := mode(t, p); m != 0o440 {
		t.Errorf("mode = %o", m)
	}
}

func TestDownwardAPI(t *testing.T) {
	item := func(path, field string) corev1.DownwardAPIVolumeFile {
		return corev1.DownwardAPIVolumeFile{Path: path, FieldRef: &corev1.ObjectFieldSelector{FieldPath: field}}
	}
	pod := testPod(corev1.Volume{Name: "input", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
		Items: []corev1.DownwardAPIVolumeFile{
			item("data.txt", "metadata.annotations['batch.kubernetes.io/job-completion-index']"),
			item("labels", "metadata.labels"),
			item("name", "metadata.name"),
			item("ns", "metadata.namespace"),
			item("uid", "metadata.uid"),
			item("app", "metadata.labels['app']"),
			{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "main", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
			{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "main", Resource: "requests.cpu", Divisor: resource.MustParse("1m")}},
			{Path: "cpulimit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "main", Resource: "limits.cpu"}},
		}}}})
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
	vols, err := SetUp(context.Background(), pod, Options{Dir: t.TempDir(), Allocatable: alloc})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"data.txt": "2",
		"labels":   "app=\"x\"\nbatch.kubernetes.io/job-completion-index=\"2\"",
		"name":     "job-2-abcde", "ns": "default", "uid": "uid-1", "app": "x",
		"mem": "64", "cpu": "250", "cpulimit": "2",
	}
	for f, w := range want {
		if got := readFile(t, filepath.Join(vols["input"].Path, f)); got != w {
			t.Errorf("%s = %q, want %q", f, got, w)
		}
	}
	pod.Annotations["batch.kubernetes.io/job-completion-index"] = "3"
	if err := Update(context.Background(), pod, Options{Dir: filepath.Dir(vols["input"].Path), Allocatable: alloc}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(vols["input"].Path, "data.txt")); got != "3" {
		t.Errorf("after update data.txt = %q", got)
	}
}

func TestProjected(t *testing.T) {
	src := &fakeSource{
		cms:     map[string]*corev1.ConfigMap{"default/cfg": {Data: map[string]string{"a": "1"}}},
		secrets: map[string]*corev1.Secret{"default/s": {Data: map[string][]byte{"k": []byte("v")}}},
	}
	vol := corev1.Volume{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o640),
		Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
		}}}}
	pod := testPod(vol)
	_, err := SetUp(context.Background(), pod, Options{Dir: t.TempDir(), Source: src})
	var ue *sandbox.UnsupportedError
	if !errors.As(err, &ue) || ue.Field != "spec.volumes[0].projected.sources[3].serviceAccountToken" {
		t.Fatalf("token without issuer: err = %v", err)
	}
	tok := func(context.Context, *corev1.Pod, *corev1.ServiceAccountTokenProjection) (string, error) {
		return "tkn", nil
	}
	vols, err := SetUp(context.Background(), pod, Options{Dir: t.TempDir(), Source: src, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	for f, w := range map[string]string{"a": "1", "k": "v", "name": "job-2-abcde", "token": "tkn"} {
		p := filepath.Join(vols["p"].Path, f)
		if got := readFile(t, p); got != w {
			t.Errorf("%s = %q, want %q", f, got, w)
		}
		if m := mode(t, p); m != 0o640 {
			t.Errorf("%s mode = %o", f, m)
		}
	}
}

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	existingFile := filepath.Join(dir, "f")
	if err := os.WriteFile(existingFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		path    string
		typ     corev1.HostPathType
		wantErr string
	}{
		{"directory ok", dir, corev1.HostPathDirectory, ""},
		{"directory is file", existingFile, corev1.HostPathDirectory, "is not a directory"},
		{"file ok", existingFile, corev1.HostPathFile, ""},
		{"file is dir", dir, corev1.HostPathFile, "is not a file"},
		{"socket", existingFile, corev1.HostPathSocket, "is not a socket file"},
		{"missing directory", filepath.Join(dir, "nope"), corev1.HostPathDirectory, "does not exist"},
		{"dir or create", filepath.Join(dir, "new/sub"), corev1.HostPathDirectoryOrCreate, ""},
		{"file or create", filepath.Join(dir, "newfile"), corev1.HostPathFileOrCreate, ""},
		{"unset", filepath.Join(dir, "whatever"), corev1.HostPathUnset, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod(corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: tc.path, Type: ptr.To(tc.typ)}}})
			vols, err := SetUp(context.Background(), pod, Options{Dir: t.TempDir()})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "hostPath type check failed") || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if vols["h"].Path != tc.path {
				t.Errorf("path = %q", vols["h"].Path)
			}
			if tc.typ == corev1.HostPathDirectoryOrCreate || tc.typ == corev1.HostPathFileOrCreate {
				if _, err := os.Stat(tc.path); err != nil {
					t.Errorf("not created: %v", err)
				}
			}
		})
	}
}

func TestEmptyDir(t *testing.T) {
	pod := testPod(
		corev1.Volume{Name: "disk", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1Mi"))}}},
	)
	dir := t.TempDir()
	_, err := SetUp(context.Background(), pod, Options{Dir: dir, Privileged: ptr.To(false)})
	var ue *sandbox.UnsupportedError
	if !errors.As(err, &ue) || ue.Field != "spec.volumes[1].emptyDir.medium" {
		t.Fatalf("tmpfs without privilege: err = %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("tmpfs emptyDir needs root")
	}
	vols, err := SetUp(context.Background(), pod, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = TearDown(dir) })
	if err := os.WriteFile(filepath.Join(vols["disk"].Path, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mem := vols["mem"].Path
	var st statfs
	if err := statFS(mem, &st); err != nil {
		t.Fatal(err)
	}
	if !st.tmpfs || st.size != 1<<20 {
		t.Errorf("memory emptyDir: tmpfs=%v size=%d, want a 1Mi tmpfs", st.tmpfs, st.size)
	}
	big := make([]byte, 2<<20)
	if err := os.WriteFile(filepath.Join(mem, "big"), big, 0o644); err == nil {
		t.Error("wrote 2Mi into a 1Mi tmpfs")
	}
	// A second SetUp (a container restart) keeps the contents.
	if _, err := SetUp(context.Background(), pod, Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(vols["disk"].Path, "keep")); got != "x" {
		t.Errorf("emptyDir content lost: %q", got)
	}
	if err := TearDown(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("volume dir left: %v", err)
	}
}
