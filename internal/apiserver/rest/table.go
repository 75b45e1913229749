package rest

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// defaultTable is kube-apiserver's table for kinds without printers:
// NAME and CREATED AT.
func defaultTable(_ context.Context, obj runtime.Object, _ registry.TableOptions) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
		{Name: "Created At", Type: "date", Description: "CreationTimestamp is a timestamp representing the server time when this object was created."},
	}}
	add := func(o runtime.Object) error {
		m, err := meta.Accessor(o)
		if err != nil {
			return err
		}
		ts := m.GetCreationTimestamp().UTC().Format(time.RFC3339)
		table.Rows = append(table.Rows, metav1.TableRow{Cells: []interface{}{m.GetName(), ts}, Object: runtime.RawExtension{Object: o}})
		return nil
	}
	if meta.IsListType(obj) {
		if la, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = la.GetResourceVersion()
			table.Continue = la.GetContinue()
			table.RemainingItemCount = la.GetRemainingItemCount()
		}
		err := meta.EachListItem(obj, add)
		return table, err
	}
	return table, add(obj)
}
