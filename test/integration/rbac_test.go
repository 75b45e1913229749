package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/test/integration/framework"
)

// TestRBACAPI checks the rbac.authorization.k8s.io/v1 objects through
// stock kubectl (create role/clusterrole/rolebinding/clusterrolebinding,
// get with upstream's columns) and upstream's validation.
func TestRBACAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ts := framework.Start(t, framework.Options{})
	k := func(args ...string) string { return ts.MustKubectl(t, "", "", args...) }
	k("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
	k("create", "clusterrole", "node-reader", "--verb=get", "--resource=nodes")
	k("create", "rolebinding", "read-pods", "--role=pod-reader", "--user=alice", "--serviceaccount=default:robot")
	k("create", "clusterrolebinding", "read-nodes", "--clusterrole=node-reader", "--group=ops")
	if out := k("get", "rolebinding", "read-pods", "-o", "wide"); !strings.Contains(out, "Role/pod-reader") ||
		!strings.Contains(out, "alice") || !strings.Contains(out, "default/robot") {
		t.Errorf("kubectl get rolebinding -o wide:\n%s", out)
	}
	if out := k("get", "clusterroles"); !strings.Contains(out, "CREATED AT") || !strings.Contains(out, "node-reader") {
		t.Errorf("kubectl get clusterroles:\n%s", out)
	}
	rbs := ts.Client.RbacV1().RoleBindings("default")
	rb, err := rbs.Get(ctx, "read-pods", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb.RoleRef.Name = "other"
	_, err = rbs.Update(ctx, rb, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "cannot change roleRef") {
		t.Errorf("changing roleRef: got %v, want 422 cannot change roleRef", err)
	}
	invalid := []struct {
		name string
		do   func() error
		want string
	}{
		{"rule without verbs", func() error {
			_, err := ts.Client.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "r"},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}}, metav1.CreateOptions{})
			return err
		}, "rules[0].verbs"},
		{"non-resource URLs in a Role", func() error {
			_, err := ts.Client.RbacV1().Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "r"},
				Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}}}, metav1.CreateOptions{})
			return err
		}, "namespaced rules cannot apply to non-resource URLs"},
		{"ClusterRoleBinding to a Role", func() error {
			_, err := ts.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "x"}}, metav1.CreateOptions{})
			return err
		}, "roleRef.kind"},
		{"subject of an unknown kind", func() error {
			_, err := rbs.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "x"},
				Subjects: []rbacv1.Subject{{Kind: "Robot", Name: "r"}}}, metav1.CreateOptions{})
			return err
		}, "subjects[0].kind"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want 422 naming %s", err, tc.want)
			}
		})
	}
}
