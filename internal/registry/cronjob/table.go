package cronjob

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/batchlet/batchlet/internal/registry/job"
	"github.com/batchlet/batchlet/internal/registry/pod"
)

type table struct{}

// Columns are upstream's, descriptions included (taken, as upstream
// does, from the batch/v1beta1 field docs).
func (table) Columns() []metav1.TableColumnDefinition {
	spec := batchv1beta1.CronJobSpec{}.SwaggerDoc()
	status := batchv1beta1.CronJobStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
		{Name: "Schedule", Type: "string", Description: spec["schedule"]},
		{Name: "Timezone", Type: "string", Description: spec["timeZone"]},
		{Name: "Suspend", Type: "boolean", Description: spec["suspend"]},
		{Name: "Active", Type: "integer", Description: status["active"]},
		{Name: "Last Schedule", Type: "string", Description: status["lastScheduleTime"]},
		{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
		{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."},
		{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."},
		{Name: "Selector", Type: "string", Priority: 1, Description: batchv1.JobSpec{}.SwaggerDoc()["selector"]},
	}
}

func (table) Row(obj runtime.Object, now time.Time) ([]interface{}, error) {
	cj, ok := obj.(*batchv1.CronJob)
	if !ok {
		return nil, fmt.Errorf("cronjob table: not a CronJob: %T", obj)
	}
	last := "<none>"
	if cj.Status.LastScheduleTime != nil {
		last = pod.Age(cj.Status.LastScheduleTime.Time, now)
	}
	tz := "<none>"
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	suspend := "<unset>"
	if cj.Spec.Suspend != nil {
		suspend = "False"
		if *cj.Spec.Suspend {
			suspend = "True"
		}
	}
	js := &cj.Spec.JobTemplate.Spec
	names, images := job.ContainerCells(js.Template.Spec.Containers)
	return []interface{}{
		cj.Name,
		cj.Spec.Schedule,
		tz,
		suspend,
		int64(len(cj.Status.Active)),
		last,
		pod.Age(cj.CreationTimestamp.Time, now),
		names,
		images,
		metav1.FormatLabelSelector(js.Selector),
	}, nil
}
