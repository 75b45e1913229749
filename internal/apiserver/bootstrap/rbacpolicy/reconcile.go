package rbacpolicy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/component-helpers/auth/rbac/reconciliation"
)

// Reconcile creates the default policy's missing objects and completes
// the stored ones, as kube-apiserver's rbac/bootstrap-roles hook does:
// objects not annotated autoupdate "false" gain the rules, subjects,
// aggregation selectors, labels and annotations of the defaults they
// lack (never losing their own; a binding whose roleRef differs is
// recreated, roleRef being immutable). Aggregated ClusterRoles get no
// rules here: the aggregation controller fills them. A conflict retries
// the object; one failing object does not stop the others. Running it
// again changes nothing.
func Reconcile(ctx context.Context, client kubernetes.Interface, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	r := reconciler{ctx: ctx, client: client, logger: logger}
	var errs []error
	for _, cr := range ClusterRoles() {
		errs = append(errs, r.role("ClusterRole", reconciliation.ClusterRoleRuleOwner{ClusterRole: &cr},
			clusterRoleClient{ctx: ctx, client: client}))
	}
	for _, crb := range ClusterRoleBindings() {
		errs = append(errs, r.binding("ClusterRoleBinding", reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: &crb},
			clusterRoleBindingClient{ctx: ctx, client: client}))
	}
	for _, role := range Roles() {
		errs = append(errs, r.role("Role", reconciliation.RoleRuleOwner{Role: &role}, roleClient{ctx: ctx, client: client}))
	}
	for _, rb := range RoleBindings() {
		errs = append(errs, r.binding("RoleBinding", reconciliation.RoleBindingAdapter{RoleBinding: &rb},
			roleBindingClient{ctx: ctx, client: client}))
	}
	if r.created+r.updated > 0 {
		logger.Info("Reconciled the default RBAC policy", "created", r.created, "updated", r.updated)
	}
	return errors.Join(errs...)
}

type reconciler struct {
	ctx              context.Context
	client           kubernetes.Interface
	logger           *slog.Logger
	created, updated int
}

func (r *reconciler) role(kind string, want reconciliation.RuleOwner, c reconciliation.RuleOwnerModifier) error {
	opts := reconciliation.ReconcileRoleOptions{Role: want, Client: c, Confirm: true}
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		res, err := opts.Run()
		if err != nil {
			return err
		}
		switch {
		case res.Protected && res.Operation != reconciliation.ReconcileNone:
			r.logger.Warn("Left an RBAC default annotated autoupdate=false without its missing permissions", "kind", kind,
				"namespace", want.GetNamespace(), "name", want.GetName(), "missing", fmt.Sprint(res.MissingRules))
		case res.Operation == reconciliation.ReconcileCreate:
			r.created++
		case res.Operation == reconciliation.ReconcileUpdate:
			r.updated++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, qualified(want.GetNamespace(), want.GetName()), err)
	}
	return nil
}

func (r *reconciler) binding(kind string, want reconciliation.RoleBinding, c reconciliation.RoleBindingModifier) error {
	opts := reconciliation.ReconcileRoleBindingOptions{RoleBinding: want, Client: c, Confirm: true}
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		res, err := opts.Run()
		if err != nil {
			return err
		}
		switch {
		case res.Protected && res.Operation != reconciliation.ReconcileNone:
			r.logger.Warn("Left an RBAC default annotated autoupdate=false without its missing subjects", "kind", kind,
				"namespace", want.GetNamespace(), "name", want.GetName(), "missing", fmt.Sprint(res.MissingSubjects))
		case res.Operation == reconciliation.ReconcileCreate:
			r.created++
		case res.Operation == reconciliation.ReconcileUpdate, res.Operation == reconciliation.ReconcileRecreate:
			r.updated++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, qualified(want.GetNamespace(), want.GetName()), err)
	}
	return nil
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// The clients below adapt the typed clients to the reconciliation
// library's interfaces, with the caller's context instead of the
// library's own context.TODO.

type clusterRoleClient struct {
	ctx    context.Context
	client kubernetes.Interface
}

func (c clusterRoleClient) Get(_, name string) (reconciliation.RuleOwner, error) {
	got, err := c.client.RbacV1().ClusterRoles().Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleRuleOwner{ClusterRole: got}, nil
}

func (c clusterRoleClient) Create(in reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	got, err := c.client.RbacV1().ClusterRoles().Create(c.ctx, in.(reconciliation.ClusterRoleRuleOwner).ClusterRole, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleRuleOwner{ClusterRole: got}, nil
}

func (c clusterRoleClient) Update(in reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	got, err := c.client.RbacV1().ClusterRoles().Update(c.ctx, in.(reconciliation.ClusterRoleRuleOwner).ClusterRole, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleRuleOwner{ClusterRole: got}, nil
}

type roleClient struct {
	ctx    context.Context
	client kubernetes.Interface
}

func (c roleClient) Get(ns, name string) (reconciliation.RuleOwner, error) {
	got, err := c.client.RbacV1().Roles(ns).Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleRuleOwner{Role: got}, nil
}

func (c roleClient) Create(in reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	role := in.(reconciliation.RoleRuleOwner).Role
	if err := ensureNamespace(c.ctx, c.client, role.Namespace); err != nil {
		return nil, err
	}
	got, err := c.client.RbacV1().Roles(role.Namespace).Create(c.ctx, role, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleRuleOwner{Role: got}, nil
}

func (c roleClient) Update(in reconciliation.RuleOwner) (reconciliation.RuleOwner, error) {
	role := in.(reconciliation.RoleRuleOwner).Role
	got, err := c.client.RbacV1().Roles(role.Namespace).Update(c.ctx, role, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleRuleOwner{Role: got}, nil
}

type clusterRoleBindingClient struct {
	ctx    context.Context
	client kubernetes.Interface
}

func (c clusterRoleBindingClient) Get(_, name string) (reconciliation.RoleBinding, error) {
	got, err := c.client.RbacV1().ClusterRoleBindings().Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: got}, nil
}

func (c clusterRoleBindingClient) Create(in reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	b := in.(reconciliation.ClusterRoleBindingAdapter).ClusterRoleBinding
	got, err := c.client.RbacV1().ClusterRoleBindings().Create(c.ctx, b, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: got}, nil
}

func (c clusterRoleBindingClient) Update(in reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	b := in.(reconciliation.ClusterRoleBindingAdapter).ClusterRoleBinding
	got, err := c.client.RbacV1().ClusterRoleBindings().Update(c.ctx, b, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: got}, nil
}

func (c clusterRoleBindingClient) Delete(_, name string, uid types.UID) error {
	return c.client.RbacV1().ClusterRoleBindings().Delete(c.ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
}

type roleBindingClient struct {
	ctx    context.Context
	client kubernetes.Interface
}

func (c roleBindingClient) Get(ns, name string) (reconciliation.RoleBinding, error) {
	got, err := c.client.RbacV1().RoleBindings(ns).Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleBindingAdapter{RoleBinding: got}, nil
}

func (c roleBindingClient) Create(in reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	b := in.(reconciliation.RoleBindingAdapter).RoleBinding
	if err := ensureNamespace(c.ctx, c.client, b.Namespace); err != nil {
		return nil, err
	}
	got, err := c.client.RbacV1().RoleBindings(b.Namespace).Create(c.ctx, b, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleBindingAdapter{RoleBinding: got}, nil
}

func (c roleBindingClient) Update(in reconciliation.RoleBinding) (reconciliation.RoleBinding, error) {
	b := in.(reconciliation.RoleBindingAdapter).RoleBinding
	got, err := c.client.RbacV1().RoleBindings(b.Namespace).Update(c.ctx, b, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return reconciliation.RoleBindingAdapter{RoleBinding: got}, nil
}

func (c roleBindingClient) Delete(ns, name string, uid types.UID) error {
	return c.client.RbacV1().RoleBindings(ns).Delete(c.ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
}

// ensureNamespace creates namespace ns if it is missing, so the
// namespaced defaults do not wait for whoever else creates it.
func ensureNamespace(ctx context.Context, client kubernetes.Interface, ns string) error {
	_, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

var (
	_ reconciliation.RuleOwnerModifier   = clusterRoleClient{}
	_ reconciliation.RuleOwnerModifier   = roleClient{}
	_ reconciliation.RoleBindingModifier = clusterRoleBindingClient{}
	_ reconciliation.RoleBindingModifier = roleBindingClient{}
)
