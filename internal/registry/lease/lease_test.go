package lease

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestLease(t *testing.T) {
	now := time.Now()
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "job-controller", CreationTimestamp: metav1.NewTime(now.Add(-time.Minute))},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("host_1"), LeaseDurationSeconds: ptr.To(int32(15))}}
	row, err := table{}.Row(l, now)
	if err != nil || row[1] != "host_1" || row[2] != "60s" {
		t.Errorf("row = %v, %v", row, err)
	}
	if errs := (strategy{}).Validate(context.Background(), l); len(errs) != 0 {
		t.Errorf("valid lease: %v", errs)
	}
	l.Spec.LeaseDurationSeconds = ptr.To(int32(0))
	if errs := (strategy{}).Validate(context.Background(), l); len(errs) != 1 || errs[0].Error() != "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0" {
		t.Errorf("errs = %v", errs)
	}
}
