package rbacpolicy_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/apiserver/authz/rbac"
	"github.com/svcnet/svcnet/internal/apiserver/bootstrap/rbacpolicy"
	"github.com/svcnet/svcnet/internal/controller/clusterroleaggregation"
)

// TestDefaultRolesOnceAggregated reconciles the defaults, lets the
// aggregation controller build admin, edit and view, and asks the RBAC
// authorizer what users bound to them in a namespace may do.
func TestDefaultRolesOnceAggregated(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logger := slog.New(slog.DiscardHandler)
	client := fake.NewClientset()
	if err := rbacpolicy.Reconcile(ctx, client, logger); err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]string{"ed": "edit", "vi": "view", "ad": "admin"} {
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: user + "-" + role},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}
		if _, err := client.RbacV1().RoleBindings("team").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	factory := informers.NewSharedInformerFactory(client, 0)
	rbacInformers := factory.Rbac().V1()
	z := rbac.New(rbac.Config{Roles: rbacInformers.Roles().Lister(), RoleBindings: rbacInformers.RoleBindings().Lister(),
		ClusterRoles: rbacInformers.ClusterRoles().Lister(), ClusterRoleBindings: rbacInformers.ClusterRoleBindings().Lister()})
	c, err := clusterroleaggregation.New(clusterroleaggregation.Config{Client: client, Informers: factory, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitAggregated(t, rbacInformers.ClusterRoles().Lister().List, "admin", "edit", "view")

	res := func(user, verb, group, resource, sub string) authz.Attributes {
		return authz.Attributes{User: authn.User{Name: user, Groups: []string{authn.GroupAuthenticated}},
			ResourceRequest: true, Verb: verb, Namespace: "team", Group: group, Resource: resource, Subresource: sub}
	}
	for _, tc := range []struct {
		name string
		req  authz.Attributes
		want bool
	}{
		{"edit creates pods", res("ed", "create", "", "pods", ""), true},
		{"edit reads pods (from view)", res("ed", "get", "", "pods", ""), true},
		{"edit execs into pods", res("ed", "create", "", "pods", "exec"), true},
		{"edit creates deployments", res("ed", "create", "apps", "deployments", ""), true},
		{"edit scales deployments", res("ed", "update", "apps", "deployments", "scale"), true},
		{"edit reads secrets", res("ed", "get", "", "secrets", ""), true},
		{"edit does not create roles", res("ed", "create", rbacv1.GroupName, "roles", ""), false},
		{"edit does not bind roles", res("ed", "create", rbacv1.GroupName, "rolebindings", ""), false},
		{"edit does not change resource quotas", res("ed", "update", "", "resourcequotas", ""), false},
		{"edit only in its namespace", authz.Attributes{User: authn.User{Name: "ed"}, ResourceRequest: true,
			Verb: "create", Namespace: "other", Resource: "pods"}, false},
		{"view gets services", res("vi", "get", "", "services", ""), true},
		{"view lists endpointslices", res("vi", "list", "discovery.k8s.io", "endpointslices", ""), true},
		{"view does not get secrets", res("vi", "get", "", "secrets", ""), false},
		{"view does not create pods", res("vi", "create", "", "pods", ""), false},
		{"admin creates roles", res("ad", "create", rbacv1.GroupName, "roles", ""), true},
		{"admin creates pods (from edit)", res("ad", "create", "", "pods", ""), true},
		{"admin gets services (from view)", res("ad", "get", "", "services", ""), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := z.Authorize(ctx, tc.req); got.Allowed != tc.want {
				t.Errorf("got %+v, want allowed %v", got, tc.want)
			}
		})
	}
}

// waitAggregated polls the informer cache until each named ClusterRole has
// rules and they are what its aggregationRule gathers: admin aggregates
// edit, which aggregates view, so this takes a few rounds.
func waitAggregated(t *testing.T, list func(labels.Selector) ([]*rbacv1.ClusterRole, error), names ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending := ""
		all, err := list(labels.Everything())
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]*rbacv1.ClusterRole{}
		for _, r := range all {
			byName[r.Name] = r
		}
		for _, name := range names {
			r := byName[name]
			if r == nil {
				pending = name
				break
			}
			want, err := clusterroleaggregation.Aggregate(r, all)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Rules) == 0 || !apiequality.Semantic.DeepEqual(want, r.Rules) {
				pending = name
				break
			}
		}
		if pending == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClusterRole %s: not aggregated in time", pending)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}
