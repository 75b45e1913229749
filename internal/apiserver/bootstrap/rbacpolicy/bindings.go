package rbacpolicy

import (
	"maps"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SystemNamespace holds the namespaced defaults.
const SystemNamespace = metav1.NamespaceSystem

func groupSubjects(names ...string) []rbacv1.Subject {
	var out []rbacv1.Subject
	for _, n := range names {
		out = append(out, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: n})
	}
	return out
}

func userSubjects(names ...string) []rbacv1.Subject {
	var out []rbacv1.Subject
	for _, n := range names {
		out = append(out, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: n})
	}
	return out
}

func serviceAccountSubject(ns, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}
}

// clusterBinding binds the ClusterRole role under the binding name name.
func clusterBinding(name, role string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

// ClusterRoleBindings returns the default ClusterRoleBindings: upstream's
// for the roles of ClusterRoles, and svcnet's node bootstrap bindings,
// named as kubeadm names its own with svcnet's prefix.
func ClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	bindings := []rbacv1.ClusterRoleBinding{
		clusterBinding("cluster-admin", "cluster-admin", groupSubjects(GroupMasters)...),
		clusterBinding("system:monitoring", "system:monitoring", groupSubjects(GroupMonitoring)...),
		clusterBinding("system:discovery", "system:discovery", groupSubjects(GroupAuthenticated)...),
		clusterBinding("system:basic-user", "system:basic-user", groupSubjects(GroupAuthenticated)...),
		clusterBinding("system:public-info-viewer", "system:public-info-viewer",
			groupSubjects(GroupAuthenticated, GroupUnauthenticated)...),
		clusterBinding("system:node-proxier", "system:node-proxier", userSubjects(UserKubeProxy)...),
		clusterBinding("system:kube-dns", "system:kube-dns", serviceAccountSubject(SystemNamespace, "kube-dns")),
		// Upstream keeps this binding without subjects: nodes get their
		// rights from the Node authorizer, limited to their own objects.
		clusterBinding("system:node", "system:node"),
		clusterBinding("system:service-account-issuer-discovery", "system:service-account-issuer-discovery",
			groupSubjects(GroupServiceAccounts)...),

		// A node with a bootstrap token may ask for a client certificate,
		// and have it approved; a node may renew its own.
		clusterBinding("svcnet:kubelet-bootstrap", "system:node-bootstrapper", groupSubjects(GroupBootstrappers)...),
		clusterBinding("svcnet:node-autoapprove-bootstrap",
			"system:certificates.k8s.io:certificatesigningrequests:nodeclient", groupSubjects(GroupBootstrappers)...),
		clusterBinding("svcnet:node-autoapprove-certificate-rotation",
			"system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", groupSubjects(GroupNodes)...),
	}
	for i := range bindings {
		addDefaultMetadata(&bindings[i].ObjectMeta)
	}
	return bindings
}

// Roles returns the default Roles of kube-system: the reader of the
// extension-apiserver-authentication ConfigMap, which extension API
// servers (metrics-server) bind to their ServiceAccounts.
func Roles() []rbacv1.Role {
	roles := []rbacv1.Role{{
		ObjectMeta: metav1.ObjectMeta{Namespace: SystemNamespace, Name: "extension-apiserver-authentication-reader"},
		Rules: []rbacv1.PolicyRule{namedRule(readVerbs(), legacyGroup, "configmaps",
			"extension-apiserver-authentication")},
	}}
	for i := range roles {
		addDefaultMetadata(&roles[i].ObjectMeta)
	}
	return roles
}

// RoleBindings returns the default RoleBindings of kube-system.
func RoleBindings() []rbacv1.RoleBinding {
	bindings := []rbacv1.RoleBinding{{
		ObjectMeta: metav1.ObjectMeta{Namespace: SystemNamespace, Name: "system::extension-apiserver-authentication-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"},
		Subjects:   userSubjects(UserControllerMgr, UserScheduler),
	}}
	for i := range bindings {
		addDefaultMetadata(&bindings[i].ObjectMeta)
	}
	return bindings
}

// addDefaultMetadata labels m as a default and marks it for
// reconciliation.
func addDefaultMetadata(m *metav1.ObjectMeta) {
	m.Labels = maps.Clone(m.Labels)
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	m.Labels[BootstrappingLabel] = BootstrappingValue
	m.Annotations = maps.Clone(m.Annotations)
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[rbacv1.AutoUpdateAnnotationKey] = "true"
}
