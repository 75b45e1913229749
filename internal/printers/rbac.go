package printers

import (
	"context"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// createdAtColumn is the CREATED AT column of roles: a timestamp, not an
// age, as upstream prints it.
func createdAtColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
}

// Roles prints Roles: NAME CREATED AT.
func (p *Printer) Roles(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return build(p, []metav1.TableColumnDefinition{nameColumn(), createdAtColumn()}, obj, opts,
		func(_ time.Time, r *rbacv1.Role, row *metav1.TableRow) error {
			row.Cells = append(row.Cells, r.Name, r.CreationTimestamp.UTC().Format(time.RFC3339))
			return nil
		})
}

// ClusterRoles prints ClusterRoles: NAME CREATED AT.
func (p *Printer) ClusterRoles(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return build(p, []metav1.TableColumnDefinition{nameColumn(), createdAtColumn()}, obj, opts,
		func(_ time.Time, r *rbacv1.ClusterRole, row *metav1.TableRow) error {
			row.Cells = append(row.Cells, r.Name, r.CreationTimestamp.UTC().Format(time.RFC3339))
			return nil
		})
}

// bindingColumns are NAME ROLE AGE and, wide, USERS GROUPS SERVICEACCOUNTS.
func bindingColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Role", Type: "string", Description: rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]},
		ageColumn(),
		{Name: "Users", Type: "string", Priority: 1, Description: "Users in the roleBinding"},
		{Name: "Groups", Type: "string", Priority: 1, Description: "Groups in the roleBinding"},
		{Name: "ServiceAccounts", Type: "string", Priority: 1, Description: "ServiceAccounts in the roleBinding"},
	}
}

// bindingCells fills a binding's row: ROLE as kind/name, subjects by kind.
func bindingCells(now time.Time, m metav1.ObjectMeta, ref rbacv1.RoleRef, subjects []rbacv1.Subject) []any {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []any{m.Name, ref.Kind + "/" + ref.Name, since(now, m.CreationTimestamp),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

// RoleBindings prints RoleBindings.
func (p *Printer) RoleBindings(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return build(p, bindingColumns(), obj, opts, func(now time.Time, b *rbacv1.RoleBinding, row *metav1.TableRow) error {
		row.Cells = append(row.Cells, bindingCells(now, b.ObjectMeta, b.RoleRef, b.Subjects)...)
		return nil
	})
}

// ClusterRoleBindings prints ClusterRoleBindings.
func (p *Printer) ClusterRoleBindings(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return build(p, bindingColumns(), obj, opts, func(now time.Time, b *rbacv1.ClusterRoleBinding, row *metav1.TableRow) error {
		row.Cells = append(row.Cells, bindingCells(now, b.ObjectMeta, b.RoleRef, b.Subjects)...)
		return nil
	})
}
