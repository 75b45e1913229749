package printers

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/svcnet/svcnet/internal/registry"
)

// Deployments prints apps/v1 Deployments: NAME READY UP-TO-DATE AVAILABLE
// AGE, and CONTAINERS IMAGES SELECTOR with -o wide.
func Deployments(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).Deployments(ctx, obj, opts)
}

// Deployments is the package-level Deployments with p's clock.
func (p *Printer) Deployments(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	status := extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
		{Name: "Up-to-date", Type: "string", Description: status["updatedReplicas"]},
		{Name: "Available", Type: "string", Description: status["availableReplicas"]},
		ageColumn(),
		containersColumn(),
		imagesColumn(),
		{Name: "Selector", Type: "string", Priority: 1, Description: extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"]},
	}
	return build(p, columns, obj, opts, func(now time.Time, d *appsv1.Deployment, row *metav1.TableRow) error {
		selector := "<invalid>"
		if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
			selector = s.String()
		}
		names, images := containerCells(d.Spec.Template.Spec.Containers)
		row.Cells = append(row.Cells, d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)),
			int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), since(now, d.CreationTimestamp),
			names, images, selector)
		return nil
	})
}

// ReplicaSets prints apps/v1 ReplicaSets: NAME DESIRED CURRENT READY AGE,
// and CONTAINERS IMAGES SELECTOR with -o wide.
func ReplicaSets(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).ReplicaSets(ctx, obj, opts)
}

// ReplicaSets is the package-level ReplicaSets with p's clock.
func (p *Printer) ReplicaSets(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	spec := extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()
	status := extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Desired", Type: "integer", Description: spec["replicas"]},
		{Name: "Current", Type: "integer", Description: status["replicas"]},
		{Name: "Ready", Type: "integer", Description: status["readyReplicas"]},
		ageColumn(),
		containersColumn(),
		imagesColumn(),
		{Name: "Selector", Type: "string", Priority: 1, Description: spec["selector"]},
	}
	return build(p, columns, obj, opts, func(now time.Time, rs *appsv1.ReplicaSet, row *metav1.TableRow) error {
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		row.Cells = append(row.Cells, rs.Name, int64(replicas(rs.Spec.Replicas)), int64(rs.Status.Replicas),
			int64(rs.Status.ReadyReplicas), since(now, rs.CreationTimestamp),
			names, images, metav1.FormatLabelSelector(rs.Spec.Selector))
		return nil
	})
}

// StatefulSets prints apps/v1 StatefulSets: NAME READY AGE, and CONTAINERS
// IMAGES with -o wide.
func StatefulSets(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).StatefulSets(ctx, obj, opts)
}

// StatefulSets is the package-level StatefulSets with p's clock.
func (p *Printer) StatefulSets(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
		ageColumn(),
		containersColumn(),
		imagesColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, ss *appsv1.StatefulSet, row *metav1.TableRow) error {
		names, images := containerCells(ss.Spec.Template.Spec.Containers)
		row.Cells = append(row.Cells, ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, replicas(ss.Spec.Replicas)),
			since(now, ss.CreationTimestamp), names, images)
		return nil
	})
}

// DaemonSets prints apps/v1 DaemonSets: NAME DESIRED CURRENT READY
// UP-TO-DATE AVAILABLE NODE SELECTOR AGE, and CONTAINERS IMAGES SELECTOR
// with -o wide.
func DaemonSets(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).DaemonSets(ctx, obj, opts)
}

// DaemonSets is the package-level DaemonSets with p's clock.
func (p *Printer) DaemonSets(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	status := appsv1.DaemonSetStatus{}.SwaggerDoc()
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Desired", Type: "integer", Description: status["desiredNumberScheduled"]},
		{Name: "Current", Type: "integer", Description: status["currentNumberScheduled"]},
		{Name: "Ready", Type: "integer", Description: status["numberReady"]},
		{Name: "Up-to-date", Type: "integer", Description: status["updatedNumberScheduled"]},
		{Name: "Available", Type: "integer", Description: status["numberAvailable"]},
		{Name: "Node Selector", Type: "string", Description: corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]},
		ageColumn(),
		containersColumn(),
		imagesColumn(),
		{Name: "Selector", Type: "string", Priority: 1, Description: appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"]},
	}
	return build(p, columns, obj, opts, func(now time.Time, ds *appsv1.DaemonSet, row *metav1.TableRow) error {
		st := ds.Status
		names, images := containerCells(ds.Spec.Template.Spec.Containers)
		row.Cells = append(row.Cells, ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled),
			int64(st.NumberReady), int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable),
			labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector), since(now, ds.CreationTimestamp),
			names, images, metav1.FormatLabelSelector(ds.Spec.Selector))
		return nil
	})
}

// ControllerRevisions prints apps/v1 ControllerRevisions: NAME CONTROLLER
// REVISION AGE, CONTROLLER as "kind.group/name" of the controller owner.
func ControllerRevisions(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).ControllerRevisions(ctx, obj, opts)
}

// ControllerRevisions is the package-level ControllerRevisions with p's
// clock.
func (p *Printer) ControllerRevisions(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Controller", Type: "string", Description: "Controller of the object"},
		{Name: "Revision", Type: "string", Description: appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"]},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, cr *appsv1.ControllerRevision, row *metav1.TableRow) error {
		controller := "<none>"
		if ref := metav1.GetControllerOf(cr); ref != nil {
			gv, err := schema.ParseGroupVersion(ref.APIVersion)
			if err != nil {
				return fmt.Errorf("printing controllerrevision %s: %w", cr.Name, err)
			}
			controller = ref.Name
			if gk := gv.WithKind(ref.Kind).GroupKind(); !gk.Empty() {
				controller = strings.ToLower(gk.String()) + "/" + ref.Name
			}
		}
		row.Cells = append(row.Cells, cr.Name, controller, cr.Revision, since(now, cr.CreationTimestamp))
		return nil
	})
}

// replicas reads an optional replica count as the internal API does: 0
// when unset.
func replicas(r *int32) int32 {
	if r == nil {
		return 0
	}
	return *r
}
