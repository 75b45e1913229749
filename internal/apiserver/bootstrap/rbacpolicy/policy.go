package rbacpolicy

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Metadata every default object carries, as upstream's.
const (
	// BootstrappingLabel marks the objects of the default policy.
	BootstrappingLabel = "kubernetes.io/bootstrapping"
	// BootstrappingValue is BootstrappingLabel's value.
	BootstrappingValue = "rbac-defaults"
)

// The aggregation labels admin, edit and view gather their rules by.
const (
	AggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	AggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	AggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
)

// Well-known groups and users the defaults bind.
const (
	GroupMasters         = "system:masters"
	GroupMonitoring      = "system:monitoring"
	GroupAuthenticated   = "system:authenticated"
	GroupUnauthenticated = "system:unauthenticated"
	GroupServiceAccounts = "system:serviceaccounts"
	GroupNodes           = "system:nodes"
	GroupBootstrappers   = "system:bootstrappers"
	UserKubeProxy        = "system:kube-proxy"
	UserControllerMgr    = "system:kube-controller-manager"
	UserScheduler        = "system:kube-scheduler"
)

// API groups the rules name.
const (
	legacyGroup         = ""
	appsGroup           = "apps"
	authenticationGroup = "authentication.k8s.io"
	authorizationGroup  = "authorization.k8s.io"
	autoscalingGroup    = "autoscaling"
	batchGroup          = "batch"
	certificatesGroup   = "certificates.k8s.io"
	coordinationGroup   = "coordination.k8s.io"
	discoveryGroup      = "discovery.k8s.io"
	eventsGroup         = "events.k8s.io"
	extensionsGroup     = "extensions"
	networkingGroup     = "networking.k8s.io"
	nodeGroup           = "node.k8s.io"
	policyGroup         = "policy"
	storageGroup        = "storage.k8s.io"
)

// Verb sets, as functions so that no caller can change another's.
func readVerbs() []string { return []string{"get", "list", "watch"} }
func writeVerbs() []string {
	return []string{"create", "update", "patch", "delete", "deletecollection"}
}
func readWriteVerbs() []string {
	return append(readVerbs(), writeVerbs()...)
}

// rule is a resource rule on one API group, its lists sorted as
// upstream's builder sorts them; multiGroupRule names several groups.
func rule(verbs []string, group string, resources ...string) rbacv1.PolicyRule {
	return multiGroupRule(verbs, []string{group}, resources...)
}

func multiGroupRule(verbs, groups []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: sorted(verbs), APIGroups: groups, Resources: sorted(resources)}
}

// namedRule is a resource rule limited to resourceNames.
func namedRule(verbs []string, group, resource string, names ...string) rbacv1.PolicyRule {
	r := rule(verbs, group, resource)
	r.ResourceNames = sorted(names)
	return r
}

// urlRule is a non-resource rule.
func urlRule(verbs []string, urls ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: sorted(verbs), NonResourceURLs: sorted(urls)}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// eventsRule lets a component write events through both events APIs.
func eventsRule() rbacv1.PolicyRule {
	return multiGroupRule([]string{"create", "update", "patch"}, []string{legacyGroup, eventsGroup}, "events")
}

func aggregation(label string) *rbacv1.AggregationRule {
	return &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
		{MatchLabels: map[string]string{label: "true"}},
	}}
}

// ClusterRoles returns the default ClusterRoles, labelled and annotated.
func ClusterRoles() []rbacv1.ClusterRole {
	all := []string{"*"}
	roles := []rbacv1.ClusterRole{
		{
			// Everything, everywhere.
			ObjectMeta: metav1.ObjectMeta{Name: "cluster-admin"},
			Rules:      []rbacv1.PolicyRule{multiGroupRule(all, all, "*"), urlRule(all, "*")},
		},
		{
			// Readiness and the discovery documents clients negotiate with.
			ObjectMeta: metav1.ObjectMeta{Name: "system:discovery"},
			Rules: []rbacv1.PolicyRule{urlRule([]string{"get"}, "/livez", "/readyz", "/healthz", "/version", "/version/",
				"/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*")},
		},
		{
			// Health and metrics for monitoring systems.
			ObjectMeta: metav1.ObjectMeta{Name: "system:monitoring"},
			Rules: []rbacv1.PolicyRule{urlRule([]string{"get"}, "/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz",
				"/livez/*", "/readyz/*", "/healthz/*")},
		},
		{
			// What every user may ask about itself.
			ObjectMeta: metav1.ObjectMeta{Name: "system:basic-user"},
			Rules: []rbacv1.PolicyRule{
				rule([]string{"create"}, authorizationGroup, "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
				rule([]string{"create"}, authenticationGroup, "selfsubjectreviews"),
			},
		},
		{
			// What even anonymous clients may read.
			ObjectMeta: metav1.ObjectMeta{Name: "system:public-info-viewer"},
			Rules:      []rbacv1.PolicyRule{urlRule([]string{"get"}, "/livez", "/readyz", "/healthz", "/version", "/version/")},
		},
		{
			// A namespace's administrator: edit, plus roles and bindings.
			ObjectMeta:      metav1.ObjectMeta{Name: "admin"},
			AggregationRule: aggregation(AggregateToAdmin),
		},
		{
			// A namespace's editor: every user-level action, nothing of the
			// system's (status, quota, limits).
			ObjectMeta:      metav1.ObjectMeta{Name: "edit", Labels: map[string]string{AggregateToAdmin: "true"}},
			AggregationRule: aggregation(AggregateToEdit),
		},
		{
			// A namespace's reader: everything but what escalates (secrets).
			ObjectMeta:      metav1.ObjectMeta{Name: "view", Labels: map[string]string{AggregateToEdit: "true"}},
			AggregationRule: aggregation(AggregateToView),
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "system:aggregate-to-admin", Labels: map[string]string{AggregateToAdmin: "true"}},
			Rules: []rbacv1.PolicyRule{
				rule([]string{"create"}, authorizationGroup, "localsubjectaccessreviews"),
				rule(readWriteVerbs(), rbacv1.GroupName, "roles", "rolebindings"),
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "system:aggregate-to-edit", Labels: map[string]string{AggregateToEdit: "true"}},
			Rules:      aggregateToEditRules(),
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "system:aggregate-to-view", Labels: map[string]string{AggregateToView: "true"}},
			Rules:      aggregateToViewRules(),
		},
		{
			// Delegated authentication and authorization (extension API
			// servers, kubelets' webhook mode).
			ObjectMeta: metav1.ObjectMeta{Name: "system:auth-delegator"},
			Rules: []rbacv1.PolicyRule{
				rule([]string{"create"}, authenticationGroup, "tokenreviews"),
				rule([]string{"create"}, authorizationGroup, "subjectaccessreviews"),
			},
		},
		{
			// The ServiceAccount issuer's OIDC discovery documents.
			ObjectMeta: metav1.ObjectMeta{Name: "system:service-account-issuer-discovery"},
			Rules:      []rbacv1.PolicyRule{urlRule([]string{"get"}, "/.well-known/openid-configuration", "/openid/v1/jwks")},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "system:node"},
			Rules:      nodeRules(),
		},
		{
			// kube-proxy: Services, their endpoints and Nodes.
			ObjectMeta: metav1.ObjectMeta{Name: "system:node-proxier"},
			Rules: []rbacv1.PolicyRule{
				rule([]string{"list", "watch"}, legacyGroup, "services", "endpoints"),
				rule(readVerbs(), legacyGroup, "nodes"),
				eventsRule(),
				rule([]string{"list", "watch"}, discoveryGroup, "endpointslices"),
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "system:kube-dns"},
			Rules:      []rbacv1.PolicyRule{rule([]string{"list", "watch"}, legacyGroup, "endpoints", "services")},
		},
		{
			// A node with a bootstrap credential asks for its client
			// certificate.
			ObjectMeta: metav1.ObjectMeta{Name: "system:node-bootstrapper"},
			Rules:      []rbacv1.PolicyRule{rule([]string{"create", "get", "list", "watch"}, certificatesGroup, "certificatesigningrequests")},
		},
		{
			// Auto-approval of a new node's client certificate request.
			ObjectMeta: metav1.ObjectMeta{Name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"},
			Rules:      []rbacv1.PolicyRule{rule([]string{"create"}, certificatesGroup, "certificatesigningrequests/nodeclient")},
		},
		{
			// Auto-approval of a node renewing its own client certificate.
			ObjectMeta: metav1.ObjectMeta{Name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"},
			Rules:      []rbacv1.PolicyRule{rule([]string{"create"}, certificatesGroup, "certificatesigningrequests/selfnodeclient")},
		},
		signerApprover("kube-apiserver-client-approver", "kubernetes.io/kube-apiserver-client"),
		signerApprover("kube-apiserver-client-kubelet-approver", "kubernetes.io/kube-apiserver-client-kubelet"),
		signerApprover("kubelet-serving-approver", "kubernetes.io/kubelet-serving"),
	}
	for i := range roles {
		addDefaultMetadata(&roles[i].ObjectMeta)
	}
	return roles
}

// signerApprover may approve requests for one signer.
func signerApprover(name, signer string) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "system:certificates.k8s.io:" + name},
		Rules:      []rbacv1.PolicyRule{namedRule([]string{"approve"}, certificatesGroup, "signers", signer)},
	}
}

// aggregateToEditRules are what edit adds to view: writes of the
// user-level resources, and reads of those that escalate.
func aggregateToEditRules() []rbacv1.PolicyRule {
	w := writeVerbs()
	return []rbacv1.PolicyRule{
		rule(readVerbs(), legacyGroup, "pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
		rule([]string{"impersonate"}, legacyGroup, "serviceaccounts"),
		rule(w, legacyGroup, "pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
		rule([]string{"create"}, legacyGroup, "pods/eviction"),
		rule(w, legacyGroup, "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
			"services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"),
		rule([]string{"create"}, legacyGroup, "serviceaccounts/token"),
		rule(w, appsGroup, "statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale",
			"deployments/rollback", "replicasets", "replicasets/scale"),
		rule(w, autoscalingGroup, "horizontalpodautoscalers"),
		rule(w, batchGroup, "jobs", "cronjobs"),
		rule(w, extensionsGroup, "daemonsets", "deployments", "deployments/scale", "deployments/rollback", "ingresses",
			"replicasets", "replicasets/scale", "replicationcontrollers/scale", "networkpolicies"),
		rule(w, policyGroup, "poddisruptionbudgets"),
		rule(w, networkingGroup, "networkpolicies", "ingresses"),
		rule(readWriteVerbs(), coordinationGroup, "leases"),
	}
}

// aggregateToViewRules are view's: reads of everything in a namespace
// that does not escalate, secrets excluded.
func aggregateToViewRules() []rbacv1.PolicyRule {
	r := readVerbs()
	return []rbacv1.PolicyRule{
		rule(r, legacyGroup, "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
			"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
		rule(r, legacyGroup, "limitranges", "resourcequotas", "bindings", "events", "pods/status", "resourcequotas/status",
			"namespaces/status", "replicationcontrollers/status", "pods/log"),
		// Reading namespaces in a namespace means reading that one: a way
		// to learn which namespaces one may use.
		rule(r, legacyGroup, "namespaces"),
		rule(r, discoveryGroup, "endpointslices"),
		rule(r, appsGroup, "controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
			"daemonsets", "daemonsets/status", "deployments", "deployments/status", "deployments/scale",
			"replicasets", "replicasets/status", "replicasets/scale"),
		rule(r, autoscalingGroup, "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
		rule(r, batchGroup, "jobs", "cronjobs", "cronjobs/status", "jobs/status"),
		rule(r, extensionsGroup, "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
			"ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status",
			"replicationcontrollers/scale", "networkpolicies"),
		rule(r, policyGroup, "poddisruptionbudgets", "poddisruptionbudgets/status"),
		rule(r, networkingGroup, "ingresses", "ingresses/status", "networkpolicies"),
	}
}

// nodeRules are what a node's agent needs. Upstream leaves the
// system:node binding without subjects and lets the Node authorizer limit
// each node to its own objects.
func nodeRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		// Checking callers of the node's own API.
		rule([]string{"create"}, authenticationGroup, "tokenreviews"),
		rule([]string{"create"}, authorizationGroup, "subjectaccessreviews", "localsubjectaccessreviews"),
		// Service environment variables.
		rule(readVerbs(), legacyGroup, "services"),
		// Registering the Node and reporting its status.
		rule([]string{"create", "get", "list", "watch"}, legacyGroup, "nodes"),
		rule([]string{"update", "patch"}, legacyGroup, "nodes/status"),
		rule([]string{"update", "patch"}, legacyGroup, "nodes"),
		rule([]string{"create", "update", "patch"}, legacyGroup, "events"),
		// Running pods, mirror pods, their status and evictions.
		rule(readVerbs(), legacyGroup, "pods"),
		rule([]string{"create", "delete"}, legacyGroup, "pods"),
		rule([]string{"update", "patch"}, legacyGroup, "pods/status"),
		rule([]string{"create"}, legacyGroup, "pods/eviction"),
		// Volumes and environment from secrets and config maps.
		rule(readVerbs(), legacyGroup, "secrets", "configmaps"),
		rule([]string{"get"}, legacyGroup, "persistentvolumeclaims", "persistentvolumes"),
		rule([]string{"get"}, legacyGroup, "endpoints"),
		// Rotating its own certificate.
		rule([]string{"create", "get", "list", "watch"}, certificatesGroup, "certificatesigningrequests"),
		// The node's heartbeat lease.
		rule([]string{"get", "create", "update", "patch", "delete"}, coordinationGroup, "leases"),
		rule([]string{"get"}, storageGroup, "volumeattachments"),
		// Projected ServiceAccount tokens.
		rule([]string{"create"}, legacyGroup, "serviceaccounts/token"),
		rule([]string{"get", "update", "patch"}, legacyGroup, "persistentvolumeclaims/status"),
		rule(readVerbs(), storageGroup, "csidrivers"),
		rule([]string{"get", "create", "update", "patch", "delete"}, storageGroup, "csinodes"),
		rule(readVerbs(), nodeGroup, "runtimeclasses"),
	}
}
