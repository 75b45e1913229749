package server

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	apirest "github.com/svcnet/svcnet/internal/apiserver/rest"
	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/storage/cacher"
)

// cachedResources are the resources whose LIST is answered from memory:
// the ones informers and kubectl list. Events (high churn, rarely listed)
// and Secrets (they would sit decrypted in memory) are read from etcd.
func cachedResources() []cacher.Resource {
	r := func(group, resource string, newFunc func() runtime.Object) cacher.Resource {
		return cacher.Resource{Prefix: apirest.StoragePrefix(&registry.Resource{Group: group, Resource: resource}) + "/",
			NewFunc: newFunc}
	}
	return []cacher.Resource{
		r("", "services", func() runtime.Object { return &corev1.Service{} }),
		r(discoveryv1.GroupName, "endpointslices", func() runtime.Object { return &discoveryv1.EndpointSlice{} }),
		r("", "endpoints", func() runtime.Object { return &corev1.Endpoints{} }),
		r("", "pods", func() runtime.Object { return &corev1.Pod{} }),
		r("", "nodes", func() runtime.Object { return &corev1.Node{} }),
		r("", "namespaces", func() runtime.Object { return &corev1.Namespace{} }),
		r("", "serviceaccounts", func() runtime.Object { return &corev1.ServiceAccount{} }),
		r("", "configmaps", func() runtime.Object { return &corev1.ConfigMap{} }),
		r(networkingv1.GroupName, "ingresses", func() runtime.Object { return &networkingv1.Ingress{} }),
		r(networkingv1.GroupName, "ingressclasses", func() runtime.Object { return &networkingv1.IngressClass{} }),
		r(networkingv1.GroupName, "servicecidrs", func() runtime.Object { return &networkingv1.ServiceCIDR{} }),
		r(rbacv1.GroupName, "roles", func() runtime.Object { return &rbacv1.Role{} }),
		r(rbacv1.GroupName, "rolebindings", func() runtime.Object { return &rbacv1.RoleBinding{} }),
		r(rbacv1.GroupName, "clusterroles", func() runtime.Object { return &rbacv1.ClusterRole{} }),
		r(rbacv1.GroupName, "clusterrolebindings", func() runtime.Object { return &rbacv1.ClusterRoleBinding{} }),
	}
}
