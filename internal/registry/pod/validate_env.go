package pod

import (
	"errors"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var errInvalidIntOrString = errors.New("invalid IntOrString type")

// Downward API fields an env var may reference (besides subscripted
// metadata.labels['k'] and metadata.annotations['k']).
var envFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

// Downward API fields a volume file may reference.
var volumeFieldPaths = []string{
	"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
}

var containerResourceFields = []string{
	"limits.cpu", "limits.ephemeral-storage", "limits.memory",
	"requests.cpu", "requests.ephemeral-storage", "requests.memory",
}

func validateEnv(vars []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range vars {
		idx := fldPath.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(ev.Name) {
				errs = append(errs, field.Invalid(idx.Child("name"), ev.Name, msg))
			}
		}
		if ev.ValueFrom != nil {
			errs = append(errs, validateEnvVarValueFrom(ev, idx.Child("valueFrom"))...)
		}
	}
	return errs
}

func validateEnvVarValueFrom(ev corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	vf := ev.ValueFrom
	n := 0
	if vf.FieldRef != nil {
		n++
		errs = append(errs, validateObjectFieldSelector(vf.FieldRef, envFieldPaths, fldPath.Child("fieldRef"))...)
	}
	if vf.ResourceFieldRef != nil {
		n++
		errs = append(errs, validateResourceFieldSelector(vf.ResourceFieldRef, false, fldPath.Child("resourceFieldRef"))...)
	}
	if vf.ConfigMapKeyRef != nil {
		n++
		errs = append(errs, validateKeySelector(vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, fldPath.Child("configMapKeyRef"))...)
	}
	if vf.SecretKeyRef != nil {
		n++
		errs = append(errs, validateKeySelector(vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, fldPath.Child("secretKeyRef"))...)
	}
	if vf.FileKeyRef != nil {
		n++
	}
	switch {
	case n == 0:
		errs = append(errs, field.Invalid(fldPath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case n > 1:
		errs = append(errs, field.Invalid(fldPath, "", "may not have more than one field specified at a time"))
	case ev.Value != "":
		errs = append(errs, field.Invalid(fldPath, "", "may not be specified when `value` is not empty"))
	}
	return errs
}

func validateKeySelector(name, key string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(name, false) {
		errs = append(errs, field.Invalid(fldPath.Child("name"), name, msg))
	}
	if key == "" {
		errs = append(errs, field.Required(fldPath.Child("key"), ""))
	} else {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(fldPath.Child("key"), key, msg))
		}
	}
	return errs
}

// validateObjectFieldSelector checks a downward API fieldRef against the
// supported paths; labels and annotations may be subscripted.
func validateObjectFieldSelector(fs *corev1.ObjectFieldSelector, supported []string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if fs.APIVersion == "" {
		errs = append(errs, field.Required(fldPath.Child("apiVersion"), ""))
		return errs
	}
	if fs.FieldPath == "" {
		errs = append(errs, field.Required(fldPath.Child("fieldPath"), ""))
		return errs
	}
	if fs.APIVersion != "v1" {
		errs = append(errs, field.Invalid(fldPath.Child("apiVersion"), fs.APIVersion, "unsupported API version"))
		return errs
	}
	path, subscript, ok := splitSubscript(fs.FieldPath)
	if !ok {
		errs = append(errs, field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath, "error converting fieldPath: invalid subscript"))
		return errs
	}
	if subscript != "" {
		switch path {
		case "metadata.annotations":
			for _, msg := range validation.IsQualifiedName(strings.ToLower(subscript)) {
				errs = append(errs, field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath, msg))
			}
		case "metadata.labels":
			for _, msg := range validation.IsQualifiedName(subscript) {
				errs = append(errs, field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath, msg))
			}
		default:
			errs = append(errs, field.Invalid(fldPath.Child("fieldPath"), path, "does not support subscript"))
		}
		return errs
	}
	if !sets.New(supported...).Has(path) {
		errs = append(errs, field.NotSupported(fldPath.Child("fieldPath"), path, supported))
	}
	return errs
}

// splitSubscript splits "metadata.labels['key']" into path and key.
func splitSubscript(s string) (path, subscript string, ok bool) {
	open := strings.Index(s, "[")
	if open < 0 {
		return s, "", true
	}
	if !strings.HasSuffix(s, "']") || len(s) < open+4 || s[open+1] != '\'' {
		return "", "", false
	}
	return s[:open], s[open+2 : len(s)-2], true
}

// validateResourceFieldSelector checks a downward API resourceFieldRef;
// volumes must name the container, env vars default to their own.
func validateResourceFieldSelector(fs *corev1.ResourceFieldSelector, needContainer bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if needContainer && fs.ContainerName == "" {
		errs = append(errs, field.Required(fldPath.Child("containerName"), ""))
	}
	switch {
	case fs.Resource == "":
		errs = append(errs, field.Required(fldPath.Child("resource"), ""))
	case strings.HasPrefix(fs.Resource, "limits.hugepages-"), strings.HasPrefix(fs.Resource, "requests.hugepages-"):
	case !sets.New(containerResourceFields...).Has(fs.Resource):
		errs = append(errs, field.NotSupported(fldPath.Child("resource"), fs.Resource, containerResourceFields))
	}
	return errs
}

func validateEnvFrom(sources []corev1.EnvFromSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range sources {
		idx := fldPath.Index(i)
		if s.Prefix != "" {
			for _, msg := range validation.IsRelaxedEnvVarName(s.Prefix) {
				errs = append(errs, field.Invalid(idx.Child("prefix"), s.Prefix, msg))
			}
		}
		n := 0
		if s.ConfigMapRef != nil {
			n++
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(s.ConfigMapRef.Name, false) {
				errs = append(errs, field.Invalid(idx.Child("configMapRef", "name"), s.ConfigMapRef.Name, msg))
			}
		}
		if s.SecretRef != nil {
			n++
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(s.SecretRef.Name, false) {
				errs = append(errs, field.Invalid(idx.Child("secretRef", "name"), s.SecretRef.Name, msg))
			}
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(idx, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(idx, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}
