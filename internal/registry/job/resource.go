package job

import (
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/registry"
)

// Resource describes batch/v1 jobs.
func Resource() registry.Resource {
	return registry.Resource{
		GroupVersion: batchv1.SchemeGroupVersion,
		Kind:         "Job",
		ListKind:     "JobList",
		Plural:       "jobs",
		Singular:     "job",
		Categories:   []string{"all"},
		Namespaced:   true,
		New:          func() runtime.Object { return &batchv1.Job{} },
		NewList:      func() runtime.Object { return &batchv1.JobList{} },
		Strategy:     strategy{},
		Status:       statusStrategy{},
		Table:        table{},
	}
}
