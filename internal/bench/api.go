package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/batchlet/batchlet/internal/storage/embedded"
)

// APIOptions configures the create/get throughput benchmark.
type APIOptions struct {
	Binary      string
	Clients     []int // concurrency levels
	Count       int   // objects per level
	Runs        int
	ContentType string // "" for JSON, or application/vnd.kubernetes.protobuf
}

// API measures creates/s and gets/s of ConfigMaps through a real server,
// and beside it the raw write rate of an embedded etcd on the same disk
// at the same concurrency (the ceiling for creates).
func API(ctx context.Context, w io.Writer, opts APIOptions) error {
	if len(opts.Clients) == 0 {
		opts.Clients = []int{1, 16}
	}
	if opts.Count <= 0 {
		opts.Count = 2000
	}
	if opts.Runs <= 0 {
		opts.Runs = 3
	}
	root, err := tempDir("batchlet-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	p, _, err := startServer(ctx, opts.Binary, filepath.Join(root, "server"))
	if err != nil {
		return err
	}
	defer p.stop()
	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(p.dataDir, "kubeconfig"))
	if err != nil {
		return err
	}
	rc.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	rc.ContentType = opts.ContentType
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	etcdRates, err := etcdPutRates(ctx, filepath.Join(root, "etcd"), opts)
	if err != nil {
		return err
	}
	for _, n := range opts.Clients {
		var creates, gets Floats
		for run := 0; run < opts.Runs; run++ {
			ns := fmt.Sprintf("bench-%d-%d", n, run)
			if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				return err
			}
			rate, err := parallel(n, opts.Count, func(i int) error {
				_, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: "cm-" + strconv.Itoa(i), Labels: map[string]string{"bench": "api"}},
					Data:       map[string]string{"key": "value"},
				}, metav1.CreateOptions{})
				return err
			})
			if err != nil {
				return p.failed(fmt.Errorf("creates: %w", err))
			}
			creates = append(creates, rate)
			rate, err = parallel(n, opts.Count, func(i int) error {
				_, err := client.CoreV1().ConfigMaps(ns).Get(ctx, "cm-"+strconv.Itoa(i), metav1.GetOptions{})
				return err
			})
			if err != nil {
				return p.failed(fmt.Errorf("gets: %w", err))
			}
			gets = append(gets, rate)
		}
		report(w, "%2d clients: creates/s median %.0f, gets/s median %.0f (%d objects x %d runs); embedded etcd puts/s at %d: %.0f",
			n, creates.Median(), gets.Median(), opts.Count, opts.Runs, n, etcdRates[n])
	}
	return nil
}

// parallel runs f for 0..count-1 on n goroutines and returns operations/s.
func parallel(n, count int, f func(i int) error) (float64, error) {
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(count) / time.Since(start).Seconds(), firstErr
}

// etcdPutRates measures raw puts/s of a fresh embedded etcd per
// concurrency level, with values the size of a small stored object.
func etcdPutRates(ctx context.Context, dir string, opts APIOptions) (map[int]float64, error) {
	e, err := embedded.Start(ctx, embedded.Config{DataDir: dir})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	value := string(make([]byte, 300))
	rates := map[int]float64{}
	for _, n := range opts.Clients {
		var sample Floats
		for run := 0; run < opts.Runs; run++ {
			prefix := fmt.Sprintf("/bench/%d/%d/", n, run)
			rate, err := parallel(n, opts.Count, func(i int) error {
				_, err := e.Client().Put(ctx, prefix+strconv.Itoa(i), value)
				return err
			})
			if err != nil {
				return nil, err
			}
			sample = append(sample, rate)
		}
		rates[n] = sample.Median()
	}
	return rates, nil
}
