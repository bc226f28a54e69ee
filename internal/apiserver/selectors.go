package apiserver

import (
	"fmt"
	"net/url"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// listParams are the query parameters of list and watch.
type listParams struct {
	labels               labels.Selector
	fields               fields.Selector
	resourceVersion      string
	resourceVersionMatch string
	limit                int64
	continueToken        string
	timeoutSeconds       *int64
	allowBookmarks       bool
	sendInitialEvents    *bool
}

// parseListParams reads list/watch parameters; bad ones are 400s.
func parseListParams(q url.Values, res *resource) (*listParams, error) {
	p := &listParams{
		resourceVersion:      q.Get("resourceVersion"),
		resourceVersionMatch: q.Get("resourceVersionMatch"),
		continueToken:        q.Get("continue"),
		allowBookmarks:       parseBool(q.Get("allowWatchBookmarks")),
	}
	var err error
	if p.labels, err = labels.Parse(q.Get("labelSelector")); err != nil {
		return nil, badRequestf("%v", err)
	}
	if p.fields, err = fields.ParseSelector(q.Get("fieldSelector")); err != nil {
		return nil, badRequestf("%v", err)
	}
	for _, req := range p.fields.Requirements() {
		if !res.fieldKeys[req.Field] {
			return nil, badRequestf("field label not supported: %s", req.Field)
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, badRequestf("invalid limit %q", v)
		}
		p.limit = n
	}
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, badRequestf("invalid timeoutSeconds %q", v)
		}
		p.timeoutSeconds = &n
	}
	if v := q.Get("sendInitialEvents"); v != "" {
		b := parseBool(v)
		p.sendInitialEvents = &b
	}
	if rv := p.resourceVersion; rv != "" && rv != "0" {
		if n, err := strconv.ParseInt(rv, 10, 64); err != nil || n < 0 {
			return nil, badRequestf("invalid resource version %q", rv)
		}
	}
	switch p.resourceVersionMatch {
	case "", "NotOlderThan", "Exact":
	default:
		return nil, badRequestf("resourceVersionMatch: Unsupported value: %q: supported values: \"Exact\", \"NotOlderThan\"", p.resourceVersionMatch)
	}
	return p, nil
}

func parseBool(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// matcher tests objects against a label and a field selector.
type matcher struct {
	res    *resource
	labels labels.Selector
	fields fields.Selector
}

func newMatcher(res *resource, p *listParams) *matcher {
	return &matcher{res: res, labels: p.labels, fields: p.fields}
}

// everything reports whether the matcher lets every object through.
func (m *matcher) everything() bool {
	return m.labels.Empty() && m.fields.Empty()
}

// matches reports whether obj passes both selectors.
func (m *matcher) matches(obj runtime.Object) bool {
	if obj == nil {
		return false
	}
	if m.everything() {
		return true
	}
	ls, fs, err := m.attrs(obj)
	if err != nil {
		return false
	}
	return m.labels.Matches(ls) && m.fields.Matches(fs)
}

func (m *matcher) attrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	ls, fs, err := m.res.Strategy.GetAttrs(obj)
	if err != nil {
		return nil, nil, err
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, fmt.Errorf("object metadata: %w", err)
	}
	all := fields.Set{"metadata.name": acc.GetName()}
	if m.res.Namespaced {
		all["metadata.namespace"] = acc.GetNamespace()
	}
	for k, v := range fs {
		all[k] = v
	}
	if ls == nil {
		ls = labels.Set(acc.GetLabels())
	}
	return ls, all, nil
}
