package clusterroleaggregation

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func rule(verb, resource string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: []string{verb}, APIGroups: []string{""}, Resources: []string{resource}}
}

func clusterRole(name string, labels map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Rules: rules}
}

func aggregated(name string, labels map[string]string, selectors ...metav1.LabelSelector) *rbacv1.ClusterRole {
	r := clusterRole(name, labels)
	r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: selectors}
	return r
}

func matching(k, v string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
}

func TestAggregate(t *testing.T) {
	x := map[string]string{"x": "true"}
	y := map[string]string{"y": "true"}
	for _, tc := range []struct {
		name    string
		role    *rbacv1.ClusterRole
		all     []*rbacv1.ClusterRole
		want    []rbacv1.PolicyRule
		wantErr bool
	}{
		{name: "union by name, each rule once",
			role: aggregated("agg", nil, matching("x", "true")),
			all: []*rbacv1.ClusterRole{
				clusterRole("b", x, rule("get", "secrets"), rule("get", "pods")),
				clusterRole("a", x, rule("get", "pods"), rule("list", "pods")),
				clusterRole("c", nil, rule("delete", "pods")),
			},
			want: []rbacv1.PolicyRule{rule("get", "pods"), rule("list", "pods"), rule("get", "secrets")}},
		{name: "selectors in order, itself left out",
			role: aggregated("agg", x, matching("y", "true"), matching("x", "true")),
			all: []*rbacv1.ClusterRole{
				aggregated("agg", x, matching("y", "true"), matching("x", "true")),
				clusterRole("a", x, rule("get", "pods")),
				clusterRole("z", y, rule("get", "nodes")),
			},
			want: []rbacv1.PolicyRule{rule("get", "nodes"), rule("get", "pods")}},
		{name: "match expressions",
			role: aggregated("agg", nil, metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "x", Operator: metav1.LabelSelectorOpExists}}}),
			all:  []*rbacv1.ClusterRole{clusterRole("a", x, rule("get", "pods")), clusterRole("b", y, rule("get", "nodes"))},
			want: []rbacv1.PolicyRule{rule("get", "pods")}},
		{name: "nothing matches: no rules",
			role: aggregated("agg", nil, matching("x", "true")),
			all:  []*rbacv1.ClusterRole{clusterRole("b", y, rule("get", "nodes"))},
			want: []rbacv1.PolicyRule{}},
		{name: "invalid selector",
			role: aggregated("agg", nil, metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "x", Operator: "Sometimes"}}}),
			wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Aggregate(tc.role, tc.all)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

// fixture runs the controller over a fake client.
type fixture struct {
	client *fake.Clientset
	c      *Controller
}

func newFixture(t *testing.T, roles ...*rbacv1.ClusterRole) *fixture {
	t.Helper()
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, r := range roles {
		if _, err := client.RbacV1().ClusterRoles().Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return &fixture{client: client, c: c}
}

// run starts the controller until the test ends.
func (f *fixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitRules polls until ClusterRole name has rules want.
func (f *fixture) waitRules(t *testing.T, name string, want []rbacv1.PolicyRule) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := f.client.RbacV1().ClusterRoles().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && cmp.Equal(want, got.Rules) {
			return
		}
		if time.Now().After(deadline) {
			var rules []rbacv1.PolicyRule
			if got != nil {
				rules = got.Rules
			}
			t.Fatalf("ClusterRole %s: rules (-want +got):\n%s (err %v)", name, cmp.Diff(want, rules), err)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

func TestControllerFollowsChanges(t *testing.T) {
	x := map[string]string{"x": "true"}
	ctx := context.Background()
	f := newFixture(t,
		aggregated("agg", nil, matching("x", "true")),
		clusterRole("a", x, rule("get", "pods")),
		clusterRole("b", x, rule("get", "secrets")),
		clusterRole("other", nil, rule("delete", "nodes")),
	)
	f.run(t)
	f.waitRules(t, "agg", []rbacv1.PolicyRule{rule("get", "pods"), rule("get", "secrets")})

	roles := f.client.RbacV1().ClusterRoles()
	if _, err := roles.Create(ctx, clusterRole("c", x, rule("list", "pods")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitRules(t, "agg", []rbacv1.PolicyRule{rule("get", "pods"), rule("get", "secrets"), rule("list", "pods")})

	if _, err := roles.Update(ctx, clusterRole("b", x, rule("watch", "secrets")), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitRules(t, "agg", []rbacv1.PolicyRule{rule("get", "pods"), rule("watch", "secrets"), rule("list", "pods")})

	if err := roles.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitRules(t, "agg", []rbacv1.PolicyRule{rule("watch", "secrets"), rule("list", "pods")})

	// A role losing its label no longer feeds the aggregate.
	if _, err := roles.Update(ctx, clusterRole("c", nil, rule("list", "pods")), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitRules(t, "agg", []rbacv1.PolicyRule{rule("watch", "secrets")})
}

func TestSyncWritesOnlyChanges(t *testing.T) {
	x := map[string]string{"x": "true"}
	upToDate := aggregated("agg", nil, matching("x", "true"))
	upToDate.Rules = []rbacv1.PolicyRule{rule("get", "pods")}
	for _, tc := range []struct {
		name        string
		roles       []*rbacv1.ClusterRole
		wantUpdates int
	}{
		{"up to date", []*rbacv1.ClusterRole{upToDate, clusterRole("a", x, rule("get", "pods"))}, 0},
		{"empty stays empty", []*rbacv1.ClusterRole{aggregated("agg", nil, matching("x", "true"))}, 0},
		{"stale", []*rbacv1.ClusterRole{upToDate, clusterRole("a", x, rule("list", "pods"))}, 1},
		{"not aggregated", []*rbacv1.ClusterRole{clusterRole("agg", nil, rule("get", "pods")), clusterRole("a", x)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.roles...)
			f.client.ClearActions()
			if err := f.c.sync(context.Background(), "agg"); err != nil {
				t.Fatal(err)
			}
			updates := 0
			for _, a := range f.client.Actions() {
				if a.GetVerb() == "update" {
					updates++
				}
			}
			if updates != tc.wantUpdates {
				t.Errorf("got %d updates, want %d", updates, tc.wantUpdates)
			}
		})
	}
}

func TestNewNeedsClientAndInformers(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("got no error, want one for a missing client and informers")
	}
}
