package etcd3

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"testing"

	"github.com/batchlet/batchlet/internal/storage"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func names(items []runtime.Object) []string {
	out := make([]string, 0, len(items))
	for _, o := range items {
		out = append(out, o.(metav1.Object).GetName())
	}
	return out
}

func createN(t *testing.T, s storage.Interface, prefix string, n int) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("cm-%02d", i)
		cm := configMap(name, nil)
		cm.Labels = map[string]string{"parity": strconv.Itoa(i % 2)}
		mustCreate(t, s, prefix+name, cm)
	}
}

func TestListAll(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	createN(t, s, prefix, 5)
	// A sibling whose name extends the prefix must not be listed.
	mustCreate(t, s, prefix[:len(prefix)-1]+"x/cm", configMap("other", nil))
	for _, p := range []string{prefix, prefix[:len(prefix)-1]} {
		res, err := s.List(ctx, p, storage.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(names(res.Items)); got != "[cm-00 cm-01 cm-02 cm-03 cm-04]" {
			t.Errorf("List(%q) = %s", p, got)
		}
		cur, _ := s.CurrentRevision(ctx)
		if res.ResourceVersion != cur || res.Continue != "" || res.RemainingItemCount != nil {
			t.Errorf("List rv %d (current %d), continue %q, remaining %v", res.ResourceVersion, cur, res.Continue, res.RemainingItemCount)
		}
	}
	empty, err := s.List(ctx, prefix+"none/", storage.ListOptions{})
	if err != nil || empty.Items == nil || len(empty.Items) != 0 {
		t.Errorf("empty List = %v, %v; want a non-nil empty list", empty, err)
	}
}

func TestListPaginationIsConsistent(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	createN(t, s, prefix, 7)

	page, err := s.List(ctx, prefix, storage.ListOptions{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	rv := page.ResourceVersion
	if page.RemainingItemCount == nil || *page.RemainingItemCount != 4 {
		t.Errorf("RemainingItemCount = %v, want 4", page.RemainingItemCount)
	}
	all := names(page.Items)

	// Changes after the first page do not show in later pages.
	mustCreate(t, s, prefix+"cm-03a", configMap("cm-03a", nil))
	if _, err := s.Delete(ctx, prefix+"cm-05", nil, nil); err != nil {
		t.Fatal(err)
	}
	for page.Continue != "" {
		page, err = s.List(ctx, prefix, storage.ListOptions{Limit: 3, Continue: page.Continue})
		if err != nil {
			t.Fatal(err)
		}
		if page.ResourceVersion != rv {
			t.Errorf("page at revision %d, want %d", page.ResourceVersion, rv)
		}
		all = append(all, names(page.Items)...)
	}
	if got := fmt.Sprint(all); got != "[cm-00 cm-01 cm-02 cm-03 cm-04 cm-05 cm-06]" {
		t.Errorf("pages = %s", got)
	}
	if page.RemainingItemCount != nil {
		t.Errorf("last page RemainingItemCount = %d, want none", *page.RemainingItemCount)
	}
}

func TestListPredicateWithLimit(t *testing.T) {
	s := newTestStore(t)
	s.listBatch = 2 // force several reads per page
	ctx := testCtx(t)
	prefix := testPrefix(t)
	createN(t, s, prefix, 9)
	odd := func(o runtime.Object) bool { return o.(*corev1.ConfigMap).Labels["parity"] == "1" }

	var all []string
	opts := storage.ListOptions{Limit: 3, Predicate: odd}
	pages := 0
	for {
		page, err := s.List(ctx, prefix, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Items) > 3 {
			t.Errorf("page of %d items, limit 3", len(page.Items))
		}
		if page.RemainingItemCount != nil {
			t.Errorf("RemainingItemCount set on a filtered list")
		}
		all = append(all, names(page.Items)...)
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}
	if got := fmt.Sprint(all); got != "[cm-01 cm-03 cm-05 cm-07]" {
		t.Errorf("filtered pages = %s", got)
	}
	if pages != 2 {
		t.Errorf("%d pages, want 2", pages)
	}
}

func TestListResourceVersions(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	first := mustCreate(t, s, prefix+"a", configMap("a", nil))
	mustCreate(t, s, prefix+"b", configMap("b", nil))
	cur, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	firstRV := strconv.FormatInt(rvOf(t, first), 10)

	exact, err := s.List(ctx, prefix, storage.ListOptions{ResourceVersion: firstRV, ResourceVersionMatch: "Exact"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(names(exact.Items)); got != "[a]" || exact.ResourceVersion != rvOf(t, first) {
		t.Errorf("Exact list at %s = %s at %d", firstRV, got, exact.ResourceVersion)
	}
	notOlder, err := s.List(ctx, prefix, storage.ListOptions{ResourceVersion: firstRV})
	if err != nil {
		t.Fatal(err)
	}
	if len(notOlder.Items) != 2 || notOlder.ResourceVersion < cur {
		t.Errorf("NotOlderThan list = %v at %d, want both at >= %d", names(notOlder.Items), notOlder.ResourceVersion, cur)
	}

	future := strconv.FormatInt(cur+1000, 10)
	for _, match := range []string{"", "NotOlderThan", "Exact"} {
		_, err := s.List(ctx, prefix, storage.ListOptions{ResourceVersion: future, ResourceVersionMatch: match})
		if !storage.HasCode(err, storage.ErrCodeTooLargeResourceVersion) {
			t.Errorf("match %q at a future revision: %v, want TooLargeResourceVersion", match, err)
		}
	}
	if _, err := s.List(ctx, prefix, storage.ListOptions{ResourceVersion: "abc"}); err == nil {
		t.Errorf("List with a malformed resourceVersion succeeded")
	}
}

func TestListInvalidContinue(t *testing.T) {
	s := newTestStore(t)
	ctx := testCtx(t)
	prefix := testPrefix(t)
	createN(t, s, prefix, 3)
	page, err := s.List(ctx, prefix, storage.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]storage.ListOptions{
		"not base64":            {Continue: "%%%"},
		"not json":              {Continue: "bm90IGpzb24"},
		"no revision":           {Continue: b64(`{"v":"meta.k8s.io/v1","start":"x"}`)},
		"wrong version":         {Continue: b64(`{"v":"v0","rv":1,"start":"x"}`)},
		"with resource version": {Continue: page.Continue, ResourceVersion: "5"},
	} {
		if _, err := s.List(ctx, prefix, opts); !storage.HasCode(err, storage.ErrCodeInvalidContinue) {
			t.Errorf("%s: %v, want InvalidContinue", name, err)
		}
	}
}

// b64 encodes a hand-made continue token.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
