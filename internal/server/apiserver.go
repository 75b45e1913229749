package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/rest"

	"github.com/svcnet/svcnet/internal/allocator/ipallocator"
	"github.com/svcnet/svcnet/internal/allocator/portallocator"
	"github.com/svcnet/svcnet/internal/allocator/repair"
	"github.com/svcnet/svcnet/internal/api"
	"github.com/svcnet/svcnet/internal/apiserver"
	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/discovery"
	"github.com/svcnet/svcnet/internal/apiserver/nodeproxy"
	"github.com/svcnet/svcnet/internal/apiserver/openapi"
	"github.com/svcnet/svcnet/internal/apiserver/podproxy"
	apirest "github.com/svcnet/svcnet/internal/apiserver/rest"
	"github.com/svcnet/svcnet/internal/pki"
	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/registry/builtin"
	"github.com/svcnet/svcnet/internal/registry/core/pod"
	"github.com/svcnet/svcnet/internal/registry/core/service"
	"github.com/svcnet/svcnet/internal/registry/core/serviceaccount"
	"github.com/svcnet/svcnet/internal/storage"
	"github.com/svcnet/svcnet/internal/storage/encryption"
)

// The identity of the join token: a bootstrap identity that may only ask
// for node certificates (RBAC binds system:bootstrappers to
// system:node-bootstrapper and auto-approves their node client CSRs);
// each node then works as system:node:<name>.
const (
	JoinTokenUser  = "system:bootstrap:svcnet-join-token"
	JoinTokenGroup = "system:bootstrappers:svcnet:join-token"
	// BootstrappersGroup is every bootstrap token's group.
	BootstrappersGroup = "system:bootstrappers"
)

// joinTokenIdentity is the user the join token authenticates as.
func joinTokenIdentity() authn.User {
	return authn.User{Name: JoinTokenUser, Groups: []string{BootstrappersGroup, JoinTokenGroup, authn.GroupAuthenticated}}
}

// buildAPIServer loads the PKI (shared through etcd with the other servers), writes the admin kubeconfig, builds the
// allocators, the resources and the API server on ln, and starts the
// allocator repair loop. It returns the loopback client configuration.
func (s *Server) buildAPIServer(ctx context.Context, g *errgroup.Group, store storage.Interface, etcd *clientv3.Client, ln net.Listener,
	advertise netip.Addr, port int) (*apiserver.Server, *rest.Config, error) {
	hosts := append([]string{advertise.String()}, s.cfg.TLSSANs...)
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	var ipAllocs []*ipallocator.Allocator
	for _, r := range s.cfg.ServiceClusterIPRanges {
		cidr, err := netip.ParsePrefix(r)
		if err != nil {
			return nil, nil, fmt.Errorf("--service-cluster-ip-range: %w", err)
		}
		a, err := ipallocator.New(ipallocator.Config{CIDR: cidr})
		if err != nil {
			return nil, nil, fmt.Errorf("--service-cluster-ip-range: %w", err)
		}
		ipAllocs = append(ipAllocs, a)
		hosts = append(hosts, cidr.Masked().Addr().Next().String())
	}
	// Before anything allocates: ClusterIP reservations of earlier
	// releases become IPAddress objects.
	if n, err := ipallocator.MigrateLegacy(ctx, store, s.logger); err != nil {
		return nil, nil, fmt.Errorf("migrating ClusterIP reservations: %w", err)
	} else if n > 0 {
		s.logger.Info("Migrated ClusterIP reservations to IPAddresses", "count", n)
	}
	portRange, err := portallocator.ParseRange(s.cfg.ServiceNodePortRange)
	if err != nil {
		return nil, nil, fmt.Errorf("--service-node-port-range: %w", err)
	}
	ports, err := portallocator.New(portallocator.Config{Range: portRange})
	if err != nil {
		return nil, nil, fmt.Errorf("--service-node-port-range: %w", err)
	}

	certs, err := s.loadSharedPKI(ctx, etcd, pki.Config{Dir: filepath.Join(s.cfg.DataDir, "pki"), Hosts: hosts, ClusterDomain: s.cfg.ClusterDomain})
	if err != nil {
		return nil, nil, err
	}
	s.pki = certs
	s.url = serverURL(s.cfg.BindAddress, port)
	if err := certs.WriteKubeconfig(s.kubeconfig, s.url); err != nil {
		return nil, nil, err
	}

	tokens, err := s.serviceAccountTokens(certs, store)
	if err != nil {
		return nil, nil, err
	}
	lookup := storeLookup{store: store}
	restCfg, err := s.loopbackConfig()
	if err != nil {
		return nil, nil, err
	}
	if s.access, err = s.newAccess(restCfg, lookup); err != nil {
		return nil, nil, err
	}
	podProxy := podproxy.New(podproxy.Config{EndpointSlices: endpointSlicesOf(store)})
	serviceCIDRs := serviceCIDRsOf(store)
	resources, err := builtin.Resources(builtin.Config{Service: service.Config{
		IPAllocators: ipAllocs, PortAllocator: ports, Store: store, ServiceCIDRs: serviceCIDRs, DenyExternalIPs: s.cfg.DenyExternalIPs,
		Logger: s.logger.With("component", "service-allocator"),
	}, IngressClasses: ingressClassesOf(store), EventTTL: s.cfg.EventTTL, PodLog: s.nodes.LogConnector(), PodExec: s.nodes.ExecConnector(), PodAttach: s.nodes.AttachConnector(), PodPortForward: s.nodes.PortForwardConnector(),
		PodProxy: podProxy.PodConnector(), ServiceProxy: podProxy.ServiceConnector(), NodeProxy: s.nodes.ProxyConnector(podProxy),
		ServiceAccountTokens: serviceaccount.TokenConfig{Tokens: tokens, Lookup: lookup,
			MaxExpiration: s.cfg.ServiceAccountMaxTokenExpiration},
		Pod: pod.Config{ServiceAccount: lookup.ServiceAccount}, TokenReviewer: tokenReviewer(tokens, certs.TokenSecret()),
		Authorizer: s.access.authorizer})
	if err != nil {
		return nil, nil, err
	}
	s.resources = resources
	if s.encryption != nil {
		var prefixes []encryption.Prefix
		for i := range resources {
			r := &resources[i]
			prefixes = append(prefixes, encryption.Prefix{Prefix: apirest.StoragePrefix(r) + "/",
				Resource: schema.GroupResource{Group: r.Group, Resource: r.Resource}})
		}
		s.encryption.SetPrefixes(prefixes)
	}
	kubeletClient, err := certs.KubeletClientCert()
	if err != nil {
		return nil, nil, err
	}
	nodesPrefix := apirest.StoragePrefix(&registry.Resource{Resource: "nodes"})
	if err := s.nodes.SetRemote(nodeproxy.RemoteConfig{ClientCert: kubeletClient, RootCAs: certs.CAPool(),
		Node: func(ctx context.Context, name string) (*corev1.Node, error) {
			n := &corev1.Node{}
			if err := store.Get(ctx, nodesPrefix+"/"+name, n); err != nil {
				if storage.IsNotFound(err) {
					return nil, apierrors.NewNotFound(corev1.Resource("nodes"), name)
				}
				return nil, err
			}
			return n, nil
		}}); err != nil {
		return nil, nil, err
	}
	scheme := api.NewScheme()
	typeConverter := applyconfigurations.NewTypeConverter(scheme)
	disc, err := discovery.New(discovery.Config{Resources: resources, Subresources: discovery.UpstreamSubresources(), Scheme: scheme})
	if err != nil {
		return nil, nil, err
	}
	version := VersionInfo()
	oapi, err := openapi.New(openapi.Config{Resources: resources, Scheme: scheme, TypeConverter: typeConverter, Version: version.GitVersion})
	if err != nil {
		return nil, nil, err
	}
	authenticate := authn.New(authn.Config{
		Tokens:             map[string]authn.User{certs.TokenSecret(): joinTokenIdentity()},
		TokenAuthenticator: tokenAuthenticators(serviceAccountAuthenticator(tokens), s.access.bootstrapTokens),
		PublicPaths:        []string{"/cacerts"},
	})
	api, err := apiserver.New(apiserver.Config{
		Listener: ln, TLS: certs.ServerTLS(),
		Resources: resources, Store: store, Codecs: apirest.NewCodecs(scheme), TypeConverter: typeConverter,
		Discovery: disc, OpenAPI: oapi, Authenticate: authenticate,
		Authorizer: s.access.authorizer, AlwaysAllowPaths: apiserver.DefaultAlwaysAllowPaths, Admit: s.access.admit,
		Ready: s.readyz,
		Extra: map[string]http.Handler{"/cacerts": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/x-pem-file")
			_, _ = w.Write(certs.CAPEM())
		})},
		MaxRequestsInFlight: s.cfg.MaxRequestsInFlight, MaxMutatingRequestsInFlight: s.cfg.MaxMutatingRequestsInFlight,
		MaxWatchesPerUser: s.cfg.MaxWatchesPerUser,
		Version:           version, Logger: s.logger.With("component", "apiserver"),
	})
	if err != nil {
		return nil, nil, err
	}
	rep, err := repair.New(repair.Config{Store: store, IPAllocators: ipAllocs, PortAllocator: ports, ServiceCIDRs: serviceCIDRs,
		Logger: s.logger.With("component", "allocator-repair")})
	if err != nil {
		return nil, nil, err
	}
	g.Go(func() error { return rep.Run(ctx) })
	return api, restCfg, nil
}

// endpointSlicesOf reads the EndpointSlices of a Service from store, for
// services/proxy.
func endpointSlicesOf(store storage.Interface) func(ctx context.Context, ns, name string) ([]discoveryv1.EndpointSlice, error) {
	prefix := apirest.StoragePrefix(&registry.Resource{Group: discoveryv1.GroupName, Resource: "endpointslices"})
	return func(ctx context.Context, ns, name string) ([]discoveryv1.EndpointSlice, error) {
		list := &discoveryv1.EndpointSliceList{}
		err := store.GetList(ctx, prefix+"/"+ns+"/", storage.ListOptions{Predicate: func(obj runtime.Object) (bool, error) {
			s, ok := obj.(*discoveryv1.EndpointSlice)
			return ok && s.Labels[discoveryv1.LabelServiceName] == name, nil
		}}, list)
		return list.Items, err
	}
}

// serviceCIDRsOf returns the ranges of the ServiceCIDRs in store that are
// not being deleted, for the ClusterIP allocator.
func serviceCIDRsOf(store storage.Interface) func(ctx context.Context) ([]netip.Prefix, error) {
	prefix := apirest.StoragePrefix(&registry.Resource{Group: networkingv1.GroupName, Resource: "servicecidrs"}) + "/"
	return func(ctx context.Context) ([]netip.Prefix, error) {
		list := &networkingv1.ServiceCIDRList{}
		if err := store.GetList(ctx, prefix, storage.ListOptions{}, list); err != nil {
			return nil, err
		}
		var out []netip.Prefix
		for _, sc := range list.Items {
			if sc.DeletionTimestamp != nil {
				continue
			}
			for _, c := range sc.Spec.CIDRs {
				if p, err := netip.ParsePrefix(c); err == nil {
					out = append(out, p)
				}
			}
		}
		return out, nil
	}
}

// ingressClassesOf lists the IngressClasses in store, for the default class
// of new Ingresses.
func ingressClassesOf(store storage.Interface) func(ctx context.Context) ([]networkingv1.IngressClass, error) {
	prefix := apirest.StoragePrefix(&registry.Resource{Group: networkingv1.GroupName, Resource: "ingressclasses"}) + "/"
	return func(ctx context.Context) ([]networkingv1.IngressClass, error) {
		list := &networkingv1.IngressClassList{}
		err := store.GetList(ctx, prefix, storage.ListOptions{}, list)
		return list.Items, err
	}
}
