package cronjob

import (
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/registry"
)

// Resource describes batch/v1 cronjobs.
func Resource() registry.Resource {
	return registry.Resource{
		GroupVersion: batchv1.SchemeGroupVersion,
		Kind:         "CronJob",
		ListKind:     "CronJobList",
		Plural:       "cronjobs",
		Singular:     "cronjob",
		ShortNames:   []string{"cj"},
		Categories:   []string{"all"},
		Namespaced:   true,
		New:          func() runtime.Object { return &batchv1.CronJob{} },
		NewList:      func() runtime.Object { return &batchv1.CronJobList{} },
		Strategy:     strategy{},
		Status:       statusStrategy{},
		Table:        table{},
	}
}
