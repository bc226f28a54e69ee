package serviceaccount

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServiceAccount(t *testing.T) {
	now := time.Now()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", CreationTimestamp: metav1.NewTime(now.Add(-10 * time.Second))}}
	row, err := table{}.Row(sa, now)
	if err != nil || row[0] != "default" || row[1] != int64(0) || row[2] != "10s" {
		t.Errorf("row = %v, %v", row, err)
	}
	sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "Bad_Name"}}
	if errs := (strategy{}).Validate(context.Background(), sa); len(errs) != 1 || errs[0].Field != "imagePullSecrets[0].name" {
		t.Errorf("errs = %v", errs)
	}
}
