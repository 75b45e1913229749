package printers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/svcnet/svcnet/internal/registry"
)

var testNow = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// ago is a timestamp d before testNow.
func ago(d time.Duration) metav1.Time { return metav1.NewTime(testNow.Add(-d)) }

// ptrTo returns a pointer to v.
func ptrTo[T any](v T) *T { return &v }

func testPrinter() *Printer { return &Printer{Now: func() time.Time { return testNow }} }

// rowOf prints a single object and returns the cells of its only row.
func rowOf(t *testing.T, fn registry.TableFunc, obj runtime.Object) []any {
	t.Helper()
	table, err := fn(context.Background(), obj, registry.TableOptions{})
	if err != nil {
		t.Fatalf("printing: got error %v, want nil", err)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(table.Rows))
	}
	if got := table.Rows[0].Object.Object; got != obj {
		t.Errorf("row object: got %p, want the printed object %p", got, obj)
	}
	return table.Rows[0].Cells
}

// columnNames returns the names of the columns of table, wide ones marked
// with a trailing "*".
func columnNames(table *metav1.Table) []string {
	var out []string
	for _, c := range table.ColumnDefinitions {
		n := c.Name
		if c.Priority == 1 {
			n += "*"
		}
		out = append(out, n)
	}
	return out
}

func TestColumns(t *testing.T) {
	p := testPrinter()
	tests := []struct {
		name string
		gvr  schema.GroupVersionResource
		obj  runtime.Object
		want []string
	}{
		{"services", schema.GroupVersionResource{Version: "v1", Resource: "services"}, &corev1.Service{},
			[]string{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector*"}},
		{"endpoints", schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}, &corev1.Endpoints{},
			[]string{"Name", "Endpoints", "Age"}},
		{"pods", schema.GroupVersionResource{Version: "v1", Resource: "pods"}, &corev1.Pod{},
			[]string{"Name", "Ready", "Status", "Restarts", "Age", "IP*", "Node*", "Nominated Node*", "Readiness Gates*"}},
		{"podtemplates", schema.GroupVersionResource{Version: "v1", Resource: "podtemplates"}, &corev1.PodTemplate{},
			[]string{"Name", "Containers", "Images", "Pod Labels"}},
		{"nodes", schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, &corev1.Node{},
			[]string{"Name", "Status", "Roles", "Age", "Version", "Internal-IP*", "External-IP*", "OS-Image*", "Kernel-Version*", "Container-Runtime*"}},
		{"namespaces", schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, &corev1.Namespace{},
			[]string{"Name", "Status", "Age"}},
		{"events", schema.GroupVersionResource{Version: "v1", Resource: "events"}, &corev1.Event{},
			[]string{"Last Seen", "Type", "Reason", "Object", "Subobject*", "Source*", "Message", "First Seen*", "Count*", "Name*"}},
		{"configmaps", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, &corev1.ConfigMap{},
			[]string{"Name", "Data", "Age"}},
		{"secrets", schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, &corev1.Secret{},
			[]string{"Name", "Type", "Data", "Age"}},
		{"serviceaccounts", schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, &corev1.ServiceAccount{},
			[]string{"Name", "Secrets", "Age"}},
		{"certificatesigningrequests", schema.GroupVersionResource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"},
			&certificatesv1.CertificateSigningRequest{}, []string{"Name", "Age", "SignerName", "Requestor", "RequestedDuration", "Condition"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fn := p.For(tc.gvr)
			if fn == nil {
				t.Fatalf("For(%v): got nil, want a printer", tc.gvr)
			}
			table, err := fn(context.Background(), tc.obj, registry.TableOptions{})
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if diff := cmp.Diff(tc.want, columnNames(table)); diff != "" {
				t.Errorf("columns (-want +got):\n%s", diff)
			}
			for _, c := range table.ColumnDefinitions {
				if c.Description == "" {
					t.Errorf("column %q: got empty description", c.Name)
				}
				if (c.Name == "Name") != (c.Format == "name") {
					t.Errorf("column %q: got format %q", c.Name, c.Format)
				}
			}
		})
	}
}

func TestFor(t *testing.T) {
	tests := []struct {
		name string
		gvr  schema.GroupVersionResource
		want bool
	}{
		{"core service", schema.GroupVersionResource{Version: "v1", Resource: "services"}, true},
		{"endpointslices", schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, true},
		{"deployments", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, true},
		{"daemonsets", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, true},
		{"controllerrevisions", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "controllerrevisions"}, true},
		{"leases", schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, true},
		{"events.k8s.io", schema.GroupVersionResource{Group: "events.k8s.io", Version: "v1", Resource: "events"}, true},
		{"unknown kind", schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}, false},
		{"unknown version", schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1beta1", Resource: "endpointslices"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := For(tc.gvr) != nil; got != tc.want {
				t.Errorf("For(%v) != nil: got %v, want %v", tc.gvr, got, tc.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	list := &corev1.ConfigMapList{
		ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next", RemainingItemCount: ptrTo[int64](7)},
		Items: []corev1.ConfigMap{
			{ObjectMeta: metav1.ObjectMeta{Name: "a", CreationTimestamp: ago(time.Hour)}, Data: map[string]string{"k": "v"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "b", CreationTimestamp: ago(3 * 24 * time.Hour)}, BinaryData: map[string][]byte{"x": nil, "y": nil}},
		},
	}
	table, err := testPrinter().ConfigMaps(context.Background(), list, registry.TableOptions{})
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	got := metav1.Table{ListMeta: table.ListMeta}
	for i, r := range table.Rows {
		got.Rows = append(got.Rows, metav1.TableRow{Cells: r.Cells})
		if r.Object.Object != &list.Items[i] {
			t.Errorf("row %d object: got %p, want &list.Items[%d]", i, r.Object.Object, i)
		}
	}
	want := metav1.Table{
		ListMeta: list.ListMeta,
		Rows: []metav1.TableRow{
			{Cells: []any{"a", int64(1), "60m"}},
			{Cells: []any{"b", int64(2), "3d"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestEmptyList(t *testing.T) {
	table, err := Services(context.Background(), &corev1.ServiceList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}}, registry.TableOptions{})
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if table.Rows == nil || len(table.Rows) != 0 {
		t.Errorf("rows: got %#v, want empty non-nil", table.Rows)
	}
	if table.ResourceVersion != "9" {
		t.Errorf("resourceVersion: got %q, want %q", table.ResourceVersion, "9")
	}
}

func TestSingleObjectResourceVersion(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x", ResourceVersion: "17"}}
	table, err := Namespaces(context.Background(), ns, registry.TableOptions{})
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if table.ResourceVersion != "17" {
		t.Errorf("resourceVersion: got %q, want %q", table.ResourceVersion, "17")
	}
}

func TestNoHeaders(t *testing.T) {
	table, err := Secrets(context.Background(), &corev1.Secret{}, registry.TableOptions{NoHeaders: true})
	if err != nil {
		t.Fatalf("got error %v, want nil", err)
	}
	if table.ColumnDefinitions != nil {
		t.Errorf("columns: got %d, want none", len(table.ColumnDefinitions))
	}
	if len(table.Rows) != 1 || len(table.Rows[0].Cells) != 4 {
		t.Errorf("rows: got %+v, want one row of 4 cells", table.Rows)
	}
}

func TestWrongType(t *testing.T) {
	tests := []struct {
		name string
		obj  runtime.Object
	}{
		{"object", &corev1.Pod{}},
		{"list", &corev1.PodList{Items: []corev1.Pod{{}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Services(context.Background(), tc.obj, registry.TableOptions{})
			if !errors.Is(err, ErrUnexpectedType) {
				t.Errorf("got error %v, want ErrUnexpectedType", err)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		name string
		ts   metav1.Time
		want string
	}{
		{"zero", metav1.Time{}, "<unknown>"},
		{"seconds", ago(30 * time.Second), "30s"},
		{"minutes and seconds", ago(5*time.Minute + 3*time.Second), "5m3s"},
		{"hours", ago(5*time.Hour + 10*time.Minute), "5h10m"},
		{"days", ago(10 * 24 * time.Hour), "10d"},
		{"future", metav1.NewTime(testNow.Add(time.Minute)), "<invalid>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cells := rowOf(t, testPrinter().Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n", CreationTimestamp: tc.ts}})
			if got := cells[2]; got != tc.want {
				t.Errorf("age: got %q, want %q", got, tc.want)
			}
		})
	}
}

func registryOpts() registry.TableOptions { return registry.TableOptions{} }
