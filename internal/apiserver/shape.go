package apiserver

import (
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// shape turns obj (an object or a list) into the negotiated output kind.
// withColumns controls whether a Table carries column definitions (watch
// events after the first do not).
func (s *server) shape(rq *request, out output, obj runtime.Object, withColumns bool) (runtime.Object, error) {
	switch out.kind {
	case outputTable:
		t, err := s.toTable(rq, out, obj, withColumns)
		if err != nil {
			return nil, err
		}
		return t, nil
	case outputMetadata:
		return toPartialMetadata(out, obj)
	}
	return obj, nil
}

// toPartialMetadata strips obj (or each item of a list) to its metadata.
func toPartialMetadata(out output, obj runtime.Object) (runtime.Object, error) {
	gv := metaGV(out.metaVersion)
	if meta.IsListType(obj) {
		items, err := meta.ExtractList(obj)
		if err != nil {
			return nil, fmt.Errorf("extracting list: %w", err)
		}
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gv.WithKind("PartialObjectMetadataList"))
		if lm, err := meta.ListAccessor(obj); err == nil {
			list.ResourceVersion = lm.GetResourceVersion()
			list.Continue = lm.GetContinue()
			list.RemainingItemCount = lm.GetRemainingItemCount()
		}
		list.Items = make([]metav1.PartialObjectMetadata, 0, len(items))
		for _, item := range items {
			pm, err := partialMetadata(gv.Version, item)
			if err != nil {
				return nil, err
			}
			list.Items = append(list.Items, *pm)
		}
		return list, nil
	}
	pm, err := partialMetadata(gv.Version, obj)
	if err != nil {
		return nil, err
	}
	return pm, nil
}

func partialMetadata(version string, obj runtime.Object) (*metav1.PartialObjectMetadata, error) {
	ma, ok := obj.(metav1.ObjectMetaAccessor)
	if !ok {
		return nil, fmt.Errorf("object %T has no ObjectMeta", obj)
	}
	om, ok := ma.GetObjectMeta().(*metav1.ObjectMeta)
	if !ok || om == nil {
		return nil, fmt.Errorf("object metadata of %T is not an ObjectMeta", obj)
	}
	pm := &metav1.PartialObjectMetadata{}
	pm.SetGroupVersionKind(metaGV(version).WithKind("PartialObjectMetadata"))
	om.DeepCopyInto(&pm.ObjectMeta)
	return pm, nil
}

// defaultColumns is the table of kinds without their own columns.
var defaultColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
}

// toTable renders obj (an object or a list) as a Table.
func (s *server) toTable(rq *request, out output, obj runtime.Object, withColumns bool) (*metav1.Table, error) {
	table := &metav1.Table{}
	table.SetGroupVersionKind(metaGV(out.metaVersion).WithKind("Table"))
	var items []runtime.Object
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, fmt.Errorf("extracting list: %w", err)
		}
		if lm, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = lm.GetResourceVersion()
			table.Continue = lm.GetContinue()
			table.RemainingItemCount = lm.GetRemainingItemCount()
		}
	} else {
		items = []runtime.Object{obj}
		if acc, err := meta.Accessor(obj); err == nil {
			table.ResourceVersion = acc.GetResourceVersion()
		}
	}
	if withColumns {
		table.ColumnDefinitions = s.columns(rq.res)
	}
	include, err := includeObject(out.req)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Clock.Now()
	table.Rows = make([]metav1.TableRow, 0, len(items))
	for _, item := range items {
		cells, err := s.cells(rq.res, item, now)
		if err != nil {
			return nil, fmt.Errorf("table row: %w", err)
		}
		row := metav1.TableRow{Cells: cells}
		switch include {
		case metav1.IncludeObject:
			if err := s.setKind(item); err != nil {
				return nil, err
			}
			row.Object.Object = item
		case metav1.IncludeMetadata:
			pm, err := partialMetadata(out.metaVersion, item)
			if err != nil {
				return nil, err
			}
			row.Object.Object = pm
		}
		table.Rows = append(table.Rows, row)
	}
	return table, nil
}

func (s *server) columns(res *resource) []metav1.TableColumnDefinition {
	if res.Table != nil {
		return res.Table.Columns()
	}
	return defaultColumns
}

func (s *server) cells(res *resource, obj runtime.Object, now time.Time) ([]interface{}, error) {
	if res.Table != nil {
		return res.Table.Row(obj, now)
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	return []interface{}{acc.GetName(), acc.GetCreationTimestamp().UTC().Format(time.RFC3339)}, nil
}

// includeObject reads the includeObject parameter (default Metadata).
func includeObject(r *http.Request) (metav1.IncludeObjectPolicy, error) {
	if r == nil {
		return metav1.IncludeMetadata, nil
	}
	switch v := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject")); v {
	case "":
		return metav1.IncludeMetadata, nil
	case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
		return v, nil
	default:
		return "", badRequestf("includeObject: Unsupported value: %q: supported values: \"None\", \"Metadata\", \"Object\"", v)
	}
}
