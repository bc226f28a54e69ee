package server_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/batchlet/batchlet/internal/server"
	"github.com/batchlet/batchlet/internal/server/servertest"
)

// BenchmarkComponentTransport compares the components' in-process
// configuration with the TLS loopback one on the same server: ConfigMap
// gets and creates, one client goroutine and sixteen.
func BenchmarkComponentTransport(b *testing.B) {
	s := servertest.Start(b, func(c *server.Config) { c.DisableAgent = true })
	ctx := context.Background()
	if _, err := s.Client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Data: map[string]string{"key": "value"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	for _, c := range []struct {
		name string
		cfg  *rest.Config
	}{{"inproc", s.ComponentConfig()}, {"tls", s.RESTConfig()}} {
		client, err := kubernetes.NewForConfig(c.cfg)
		if err != nil {
			b.Fatal(err)
		}
		cms := client.CoreV1().ConfigMaps("default")
		for _, par := range []int{1, 16} {
			b.Run(fmt.Sprintf("get/%s/%d", c.name, par), func(b *testing.B) {
				runParallel(b, par, func() error {
					_, err := cms.Get(ctx, "bench", metav1.GetOptions{})
					return err
				})
			})
			b.Run(fmt.Sprintf("create/%s/%d", c.name, par), func(b *testing.B) {
				runParallel(b, par, func() error {
					_, err := cms.Create(ctx, &corev1.ConfigMap{
						ObjectMeta: metav1.ObjectMeta{Name: "cm-" + strconv.FormatInt(seq.Add(1), 10)},
						Data:       map[string]string{"key": "value"}}, metav1.CreateOptions{})
					return err
				})
			})
		}
	}
}

// runParallel runs op b.N times on about par goroutines and reports the
// process's CPU time per op (client and server are both in it), which a
// busy machine disturbs less than wall time.
func runParallel(b *testing.B, par int, op func() error) {
	b.ReportAllocs()
	start := processCPU()
	defer func() {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}()
	if par == 1 {
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	// RunParallel starts parallelism × GOMAXPROCS goroutines.
	b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
