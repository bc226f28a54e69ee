package pod

import (
	"path"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const volumeModeMessage = "must be a number between 0 and 0777 (octal), both inclusive"

// volumeSources lists the set source fields of a VolumeSource by JSON name,
// in declaration order.
func volumeSources(vs *corev1.VolumeSource) []string {
	var names []string
	v := reflect.ValueOf(vs).Elem()
	t := v.Type()
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).Kind() == reflect.Pointer && !v.Field(i).IsNil() {
			names = append(names, strings.Split(t.Field(i).Tag.Get("json"), ",")[0])
		}
	}
	return names
}

func volumeSourceCount(vs *corev1.VolumeSource) int { return len(volumeSources(vs)) }

// validateVolumes checks the pod's volumes and returns their names.
func validateVolumes(volumes []corev1.Volume, fldPath *field.Path) (sets.Set[string], field.ErrorList) {
	var errs field.ErrorList
	names := sets.New[string]()
	for i := range volumes {
		v := &volumes[i]
		idx := fldPath.Index(i)
		if v.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else {
			errs = append(errs, validateDNS1123Label(v.Name, idx.Child("name"))...)
			if names.Has(v.Name) {
				errs = append(errs, field.Duplicate(idx.Child("name"), v.Name))
			}
			names.Insert(v.Name)
		}
		errs = append(errs, validateVolumeSource(&v.VolumeSource, idx)...)
	}
	return names, errs
}

func validateVolumeSource(vs *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	kinds := volumeSources(vs)
	if len(kinds) == 0 {
		return field.ErrorList{field.Required(fldPath, "must specify a volume type")}
	}
	var errs field.ErrorList
	for _, k := range kinds[1:] {
		errs = append(errs, field.Forbidden(fldPath.Child(k), "may not specify more than 1 volume type"))
	}
	switch {
	case vs.HostPath != nil:
		if vs.HostPath.Path == "" {
			errs = append(errs, field.Required(fldPath.Child("hostPath", "path"), ""))
		}
	case vs.EmptyDir != nil:
		if sl := vs.EmptyDir.SizeLimit; sl != nil {
			errs = append(errs, validateQuantity(*sl, fldPath.Child("emptyDir", "sizeLimit"))...)
		}
	case vs.Secret != nil:
		p := fldPath.Child("secret")
		if vs.Secret.SecretName == "" {
			errs = append(errs, field.Required(p.Child("secretName"), ""))
		}
		errs = append(errs, validateMode(vs.Secret.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(vs.Secret.Items, p.Child("items"))...)
	case vs.ConfigMap != nil:
		p := fldPath.Child("configMap")
		if vs.ConfigMap.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(vs.ConfigMap.Name, false) {
				errs = append(errs, field.Invalid(p.Child("name"), vs.ConfigMap.Name, msg))
			}
		}
		errs = append(errs, validateMode(vs.ConfigMap.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(vs.ConfigMap.Items, p.Child("items"))...)
	case vs.DownwardAPI != nil:
		p := fldPath.Child("downwardAPI")
		errs = append(errs, validateMode(vs.DownwardAPI.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validateDownwardAPIFiles(vs.DownwardAPI.Items, p.Child("items"))...)
	case vs.PersistentVolumeClaim != nil:
		if vs.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case vs.Projected != nil:
		errs = append(errs, validateMode(vs.Projected.DefaultMode, fldPath.Child("projected", "defaultMode"))...)
	}
	return errs
}

func validateMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode < 0 || *mode > 0o777) {
		return field.ErrorList{field.Invalid(fldPath, *mode, volumeModeMessage)}
	}
	return nil
}

func validateKeyToPaths(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, kp := range items {
		idx := fldPath.Index(i)
		if kp.Key == "" {
			errs = append(errs, field.Required(idx.Child("key"), ""))
		}
		if kp.Path == "" {
			errs = append(errs, field.Required(idx.Child("path"), ""))
		}
		errs = append(errs, validateLocalNonReservedPath(kp.Path, idx.Child("path"))...)
		errs = append(errs, validateMode(kp.Mode, idx.Child("mode"))...)
	}
	return errs
}

func validateDownwardAPIFiles(items []corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range items {
		idx := fldPath.Index(i)
		if f.Path == "" {
			errs = append(errs, field.Required(idx.Child("path"), ""))
		}
		errs = append(errs, validateLocalNonReservedPath(f.Path, idx.Child("path"))...)
		errs = append(errs, validateMode(f.Mode, idx.Child("mode"))...)
		switch {
		case f.FieldRef != nil && f.ResourceFieldRef != nil:
			errs = append(errs, field.Invalid(idx, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		case f.FieldRef != nil:
			errs = append(errs, validateObjectFieldSelector(f.FieldRef, volumeFieldPaths, idx.Child("fieldRef"))...)
		case f.ResourceFieldRef != nil:
			errs = append(errs, validateResourceFieldSelector(f.ResourceFieldRef, true, idx.Child("resourceFieldRef"))...)
		default:
			errs = append(errs, field.Required(idx, "one of fieldRef and resourceFieldRef is required"))
		}
	}
	return errs
}

// validateLocalDescendingPath: relative, without '..' elements.
func validateLocalDescendingPath(p string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(p) {
		errs = append(errs, field.Invalid(fldPath, p, "must be a relative path"))
	}
	for _, item := range strings.Split(p, "/") {
		if item == ".." {
			errs = append(errs, field.Invalid(fldPath, p, "must not contain '..'"))
			break
		}
	}
	return errs
}

func validateLocalNonReservedPath(p string, fldPath *field.Path) field.ErrorList {
	errs := validateLocalDescendingPath(p, fldPath)
	if strings.HasPrefix(p, "..") {
		errs = append(errs, field.Invalid(fldPath, p, "must not start with '..'"))
	}
	return errs
}

func validateVolumeMounts(mounts []corev1.VolumeMount, volumes sets.Set[string], fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	for i, m := range mounts {
		idx := fldPath.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else if !volumes.Has(m.Name) {
			errs = append(errs, field.NotFound(idx.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(idx.Child("mountPath"), ""))
		} else if paths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(idx.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths.Insert(m.MountPath)
		if m.SubPath != "" {
			errs = append(errs, validateLocalDescendingPath(m.SubPath, idx.Child("subPath"))...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(idx.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			errs = append(errs, validateLocalDescendingPath(m.SubPathExpr, idx.Child("subPathExpr"))...)
		}
		if m.MountPropagation != nil {
			switch *m.MountPropagation {
			case corev1.MountPropagationNone, corev1.MountPropagationHostToContainer, corev1.MountPropagationBidirectional:
			default:
				errs = append(errs, field.NotSupported(idx.Child("mountPropagation"), *m.MountPropagation, []string{
					string(corev1.MountPropagationBidirectional), string(corev1.MountPropagationHostToContainer), string(corev1.MountPropagationNone),
				}))
			}
		}
	}
	return errs
}
