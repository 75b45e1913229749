package printers

import (
	"context"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

const (
	// nodeRolePrefix labels a node with the role after the prefix.
	nodeRolePrefix = "node-role.kubernetes.io/"
	// nodeRoleLabel labels a node with the role in its value (legacy).
	nodeRoleLabel = "kubernetes.io/role"
)

// Nodes prints core/v1 Nodes: NAME STATUS ROLES AGE VERSION, and
// INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME with
// -o wide.
func Nodes(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).Nodes(ctx, obj, opts)
}

// Nodes is the package-level Nodes with p's clock.
func (p *Printer) Nodes(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	info := corev1.NodeSystemInfo{}.SwaggerDoc()
	addresses := corev1.NodeStatus{}.SwaggerDoc()["addresses"]
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Status", Type: "string", Description: "The status of the node"},
		{Name: "Roles", Type: "string", Description: "The roles of the node"},
		ageColumn(),
		{Name: "Version", Type: "string", Description: info["kubeletVersion"]},
		{Name: "Internal-IP", Type: "string", Priority: 1, Description: addresses},
		{Name: "External-IP", Type: "string", Priority: 1, Description: addresses},
		{Name: "OS-Image", Type: "string", Priority: 1, Description: info["osImage"]},
		{Name: "Kernel-Version", Type: "string", Priority: 1, Description: info["kernelVersion"]},
		{Name: "Container-Runtime", Type: "string", Priority: 1, Description: info["containerRuntimeVersion"]},
	}
	return build(p, columns, obj, opts, nodeRow)
}

func nodeRow(now time.Time, n *corev1.Node, row *metav1.TableRow) error {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		status = "NotReady"
		if c.Status == corev1.ConditionTrue {
			status = "Ready"
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	roles := strings.Join(nodeRoles(n.Labels), ",")
	if roles == "" {
		roles = "<none>"
	}
	ni := n.Status.NodeInfo
	row.Cells = append(row.Cells, n.Name, status, roles, since(now, n.CreationTimestamp), ni.KubeletVersion,
		nodeAddress(n, corev1.NodeInternalIP), nodeAddress(n, corev1.NodeExternalIP),
		orUnknown(ni.OSImage), orUnknown(ni.KernelVersion), orUnknown(ni.ContainerRuntimeVersion))
	return nil
}

// nodeRoles returns the sorted roles named by node-role.kubernetes.io/<role>
// label keys and kubernetes.io/role label values.
func nodeRoles(nodeLabels map[string]string) []string {
	set := map[string]bool{}
	for k, v := range nodeLabels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix):
			if role := strings.TrimPrefix(k, nodeRolePrefix); role != "" {
				set[role] = true
			}
		case k == nodeRoleLabel && v != "":
			set[v] = true
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// nodeAddress returns the first address of type t, or "<none>".
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// Namespaces prints core/v1 Namespaces: NAME STATUS AGE.
func Namespaces(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).Namespaces(ctx, obj, opts)
}

// Namespaces is the package-level Namespaces with p's clock.
func (p *Printer) Namespaces(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Status", Type: "string", Description: "The status of the namespace"},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, ns *corev1.Namespace, row *metav1.TableRow) error {
		row.Cells = append(row.Cells, ns.Name, string(ns.Status.Phase), since(now, ns.CreationTimestamp))
		return nil
	})
}

// ConfigMaps prints core/v1 ConfigMaps: NAME DATA AGE, DATA counting both
// data and binaryData keys.
func ConfigMaps(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).ConfigMaps(ctx, obj, opts)
}

// ConfigMaps is the package-level ConfigMaps with p's clock.
func (p *Printer) ConfigMaps(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Data", Type: "string", Description: corev1.ConfigMap{}.SwaggerDoc()["data"]},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, cm *corev1.ConfigMap, row *metav1.TableRow) error {
		row.Cells = append(row.Cells, cm.Name, int64(len(cm.Data)+len(cm.BinaryData)), since(now, cm.CreationTimestamp))
		return nil
	})
}

// Secrets prints core/v1 Secrets: NAME TYPE DATA AGE.
func Secrets(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).Secrets(ctx, obj, opts)
}

// Secrets is the package-level Secrets with p's clock.
func (p *Printer) Secrets(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	doc := corev1.Secret{}.SwaggerDoc()
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Type", Type: "string", Description: doc["type"]},
		{Name: "Data", Type: "string", Description: doc["data"]},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, s *corev1.Secret, row *metav1.TableRow) error {
		row.Cells = append(row.Cells, s.Name, string(s.Type), int64(len(s.Data)), since(now, s.CreationTimestamp))
		return nil
	})
}

// ServiceAccounts prints core/v1 ServiceAccounts: NAME SECRETS AGE.
func ServiceAccounts(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).ServiceAccounts(ctx, obj, opts)
}

// ServiceAccounts is the package-level ServiceAccounts with p's clock.
func (p *Printer) ServiceAccounts(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Secrets", Type: "string", Description: corev1.ServiceAccount{}.SwaggerDoc()["secrets"]},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, sa *corev1.ServiceAccount, row *metav1.TableRow) error {
		row.Cells = append(row.Cells, sa.Name, int64(len(sa.Secrets)), since(now, sa.CreationTimestamp))
		return nil
	})
}
