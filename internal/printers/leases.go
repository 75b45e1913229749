package printers

import (
	"context"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Leases prints coordination.k8s.io/v1 Leases: NAME HOLDER AGE.
func Leases(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).Leases(ctx, obj, opts)
}

// Leases is the package-level Leases with p's clock.
func (p *Printer) Leases(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Holder", Type: "string", Description: coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, l *coordinationv1.Lease, row *metav1.TableRow) error {
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		row.Cells = append(row.Cells, l.Name, holder, since(now, l.CreationTimestamp))
		return nil
	})
}
