package printers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/svcnet/svcnet/internal/registry"
)

// ErrUnexpectedType is returned when a TableFunc is given an object that is
// neither its kind nor a list of its kind.
var ErrUnexpectedType = errors.New("unexpected object type")

// Printer builds Tables. The zero value is ready to use and reads the wall
// clock; tests set Now.
type Printer struct {
	// Now returns the current time, against which the AGE-style columns
	// are computed. nil means time.Now.
	Now func() time.Time
}

func (p *Printer) now() time.Time {
	if p == nil || p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// For returns the TableFunc of gvr, or nil when svcnet has no printer for
// it (the caller then uses the default NAME/CREATED AT table).
func (p *Printer) For(gvr schema.GroupVersionResource) registry.TableFunc {
	switch gvr {
	case schema.GroupVersionResource{Version: "v1", Resource: "services"}:
		return p.Services
	case schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}:
		return p.Endpoints
	case schema.GroupVersionResource{Version: "v1", Resource: "pods"}:
		return p.Pods
	case schema.GroupVersionResource{Version: "v1", Resource: "podtemplates"}:
		return p.PodTemplates
	case schema.GroupVersionResource{Version: "v1", Resource: "nodes"}:
		return p.Nodes
	case schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}:
		return p.Namespaces
	case schema.GroupVersionResource{Version: "v1", Resource: "events"}:
		return p.Events
	case schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}:
		return p.ConfigMaps
	case schema.GroupVersionResource{Version: "v1", Resource: "secrets"}:
		return p.Secrets
	case schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}:
		return p.ServiceAccounts
	case schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}:
		return p.EndpointSlices
	case schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}:
		return p.Deployments
	case schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}:
		return p.ReplicaSets
	case schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}:
		return p.StatefulSets
	case schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}:
		return p.DaemonSets
	case schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "controllerrevisions"}:
		return p.ControllerRevisions
	case schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}:
		return p.Leases
	case schema.GroupVersionResource{Group: "events.k8s.io", Version: "v1", Resource: "events"}:
		return p.EventsV1
	case schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}:
		return p.Roles
	case schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}:
		return p.ClusterRoles
	case schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}:
		return p.RoleBindings
	case schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}:
		return p.ClusterRoleBindings
	case schema.GroupVersionResource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"}:
		return p.CertificateSigningRequests
	case schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}:
		return p.Ingresses
	case schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}:
		return p.IngressClasses
	case schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "servicecidrs"}:
		return p.ServiceCIDRs
	case schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ipaddresses"}:
		return p.IPAddresses
	}
	return nil
}

// For returns the TableFunc of gvr using the wall clock, or nil for kinds
// without a printer.
func For(gvr schema.GroupVersionResource) registry.TableFunc {
	return (&Printer{}).For(gvr)
}

// fillFunc appends the cells (and any conditions) of o to row.
type fillFunc[T runtime.Object] func(now time.Time, o T, row *metav1.TableRow) error

// build makes the Table of obj, a single T or a list of T, as
// kube-apiserver's table generator does: one row per object, list
// metadata copied from the list, the resourceVersion of a single object.
func build[T runtime.Object](p *Printer, columns []metav1.TableColumnDefinition, obj runtime.Object, opts registry.TableOptions, fill fillFunc[T]) (*metav1.Table, error) {
	now := p.now()
	table := &metav1.Table{}
	if !opts.NoHeaders {
		table.ColumnDefinitions = columns
	}
	add := func(item runtime.Object) error {
		o, ok := item.(T)
		if !ok {
			var want T
			return fmt.Errorf("printing %T as %T: %w", item, want, ErrUnexpectedType)
		}
		row := metav1.TableRow{Object: runtime.RawExtension{Object: item}}
		if err := fill(now, o, &row); err != nil {
			return err
		}
		if len(row.Cells) != len(columns) {
			return fmt.Errorf("printing %T: %d cells for %d columns", item, len(row.Cells), len(columns))
		}
		table.Rows = append(table.Rows, row)
		return nil
	}
	if meta.IsListType(obj) {
		la, err := meta.ListAccessor(obj)
		if err != nil {
			return nil, fmt.Errorf("printing %T: %w", obj, err)
		}
		table.ResourceVersion = la.GetResourceVersion()
		table.Continue = la.GetContinue()
		table.RemainingItemCount = la.GetRemainingItemCount()
		table.Rows = make([]metav1.TableRow, 0, meta.LenList(obj))
		if err := meta.EachListItem(obj, add); err != nil {
			return nil, err
		}
		return table, nil
	}
	if m, err := meta.Accessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
	}
	if err := add(obj); err != nil {
		return nil, err
	}
	return table, nil
}

// Common column definitions, described with the API's own field docs as
// upstream does.

func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
}

func containersColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."}
}

func imagesColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."}
}

// since renders the time elapsed from t to now the way kubectl's AGE
// column does, "<unknown>" for an unset time.
func since(now time.Time, t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// microSince is since for a MicroTime.
func microSince(now time.Time, t metav1.MicroTime) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// containerCells joins the names and the images of containers with ",".
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// joinWithMore joins the first limit items of a list of total entries and
// appends " + N more..." when some were left out; empty gives "<unset>".
func joinWithMore(items []string, total, limit int) string {
	s := strings.Join(items, ",")
	if total > limit {
		return fmt.Sprintf("%s + %d more...", s, total-limit)
	}
	if s == "" {
		return "<unset>"
	}
	return s
}
