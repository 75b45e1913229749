package ingress

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// created returns an ingress as stored after a create request.
func created(mutate func(*networkingv1.Ingress)) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("nginx"),
			Rules: []networkingv1.IngressRule{{
				Host: "example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/api",
						PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: "api", Port: networkingv1.ServiceBackendPort{Number: 80}}},
					}},
				}},
			}},
			TLS: []networkingv1.IngressTLS{{Hosts: []string{"example.com"}, SecretName: "tls"}},
		},
		Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
			Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.1"}}}},
	}
	if mutate != nil {
		mutate(ing)
	}
	Strategy{}.Default(ing)
	Strategy{}.PrepareForCreate(context.Background(), ing)
	return ing
}

func path0(ing *networkingv1.Ingress) *networkingv1.HTTPIngressPath {
	return &ing.Spec.Rules[0].HTTP.Paths[0]
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*networkingv1.Ingress)
		want   []string
	}{
		{name: "valid"},
		{
			name: "default backend only",
			mutate: func(ing *networkingv1.Ingress) {
				ing.Spec.Rules = nil
				ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
					APIGroup: ptr.To("example.com"), Kind: "Bucket", Name: "static"}}
			},
		},
		{
			name:   "neither rules nor default backend",
			mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules = nil },
			want:   []string{"spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"},
		},
		{
			name:   "bad name",
			mutate: func(ing *networkingv1.Ingress) { ing.Name = "Web" },
			want:   []string{`metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name:   "IP host",
			mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].Host = "192.0.2.1" },
			want:   []string{`spec.rules[0].host: Invalid value: "192.0.2.1": must be a DNS name, not an IP address`},
		},
		{
			name:   "wildcard host",
			mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].Host = "*.example.com" },
		},
		{
			name:   "no path type",
			mutate: func(ing *networkingv1.Ingress) { path0(ing).PathType = nil },
			want:   []string{"spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"},
		},
		{
			name:   "unknown path type",
			mutate: func(ing *networkingv1.Ingress) { path0(ing).PathType = ptr.To[networkingv1.PathType]("Regex") },
			want:   []string{`spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"`},
		},
		{
			name:   "relative prefix",
			mutate: func(ing *networkingv1.Ingress) { path0(ing).Path = "api/.." },
			want: []string{
				`spec.rules[0].http.paths[0].path: Invalid value: "api/..": must be an absolute path`,
				`spec.rules[0].http.paths[0].path: Invalid value: "api/..": cannot end with '/..'`,
			},
		},
		{
			name:   "double slash",
			mutate: func(ing *networkingv1.Ingress) { path0(ing).Path = "/a//b" },
			want:   []string{`spec.rules[0].http.paths[0].path: Invalid value: "/a//b": must not contain '//'`},
		},
		{
			name: "implementation specific may be empty",
			mutate: func(ing *networkingv1.Ingress) {
				path0(ing).PathType = ptr.To(networkingv1.PathTypeImplementationSpecific)
				path0(ing).Path = ""
			},
		},
		{
			name:   "no paths",
			mutate: func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].HTTP.Paths = nil },
			want:   []string{"spec.rules[0].http.paths: Required value"},
		},
		{
			name: "both backends",
			mutate: func(ing *networkingv1.Ingress) {
				path0(ing).Backend.Resource = &corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "b"}
			},
			want: []string{`spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both resource and service backends`},
		},
		{
			name:   "no backend",
			mutate: func(ing *networkingv1.Ingress) { path0(ing).Backend = networkingv1.IngressBackend{} },
			want:   []string{`spec.rules[0].http.paths[0].backend: Invalid value: "": resource or service backend is required`},
		},
		{
			name: "service backend errors",
			mutate: func(ing *networkingv1.Ingress) {
				path0(ing).Backend.Service = &networkingv1.IngressServiceBackend{Name: "1api", Port: networkingv1.ServiceBackendPort{Number: 70000}}
			},
			want: []string{
				`spec.rules[0].http.paths[0].backend.service.name: Invalid value: "1api": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
				`spec.rules[0].http.paths[0].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive`,
			},
		},
		{
			name: "port name and number",
			mutate: func(ing *networkingv1.Ingress) {
				path0(ing).Backend.Service.Port = networkingv1.ServiceBackendPort{Name: "http", Number: 80}
			},
			want: []string{`spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & port number`},
		},
		{
			name:   "no port",
			mutate: func(ing *networkingv1.Ingress) { path0(ing).Backend.Service.Port = networkingv1.ServiceBackendPort{} },
			want:   []string{"spec.rules[0].http.paths[0].backend: Required value: port name or number is required"},
		},
		{
			name: "resource backend without kind",
			mutate: func(ing *networkingv1.Ingress) {
				path0(ing).Backend = networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{Name: "a/b"}}
			},
			want: []string{
				"spec.rules[0].http.paths[0].backend.resource.kind: Required value",
				`spec.rules[0].http.paths[0].backend.resource.name: Invalid value: "a/b": may not contain '/'`,
			},
		},
		{
			name: "TLS",
			mutate: func(ing *networkingv1.Ingress) {
				ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"a..b"}, SecretName: "Bad_Secret"}}
			},
			want: []string{
				`spec.tls[0].hosts[0]: Invalid value: "a..b": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`spec.tls[0].secretName: Invalid value: "Bad_Secret": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			},
		},
		{
			name:   "class annotation mismatch",
			mutate: func(ing *networkingv1.Ingress) { ing.Annotations = map[string]string{ClassAnnotation: "traefik"} },
			want:   []string{`annotations.kubernetes.io/ingress.class: Invalid value: "traefik": must match ` + "`ingressClassName`" + ` when both are specified`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(Strategy{}.Validate(context.Background(), created(tc.mutate)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStrategies(t *testing.T) {
	ctx := context.Background()
	ing := created(nil)
	if len(ing.Status.LoadBalancer.Ingress) != 0 || ing.Generation != 1 {
		t.Fatalf("create: got status %v generation %d, want empty status and generation 1", ing.Status, ing.Generation)
	}
	ing.ResourceVersion = "5"
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.1"}}

	// A spec write keeps the stored status and bumps generation.
	upd := ing.DeepCopy()
	upd.Spec.Rules[0].Host = "example.org"
	upd.Status = networkingv1.IngressStatus{}
	Strategy{}.PrepareForUpdate(ctx, upd, ing)
	if upd.Generation != 2 || len(upd.Status.LoadBalancer.Ingress) != 1 {
		t.Errorf("update: got generation %d status %v, want 2 and the stored status", upd.Generation, upd.Status)
	}
	if errs := (Strategy{}).ValidateUpdate(ctx, upd, ing); len(errs) != 0 {
		t.Errorf("update: got errors %v", errs)
	}

	// A status write keeps the stored spec.
	st := ing.DeepCopy()
	st.Spec.Rules = nil
	st.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.2"}, {Hostname: "lb.example.com"}}
	StatusStrategy{}.PrepareForUpdate(ctx, st, ing)
	if len(st.Spec.Rules) != 1 {
		t.Errorf("status update: got rules %v, want the stored spec", st.Spec.Rules)
	}
	if errs := (StatusStrategy{}).ValidateUpdate(ctx, st, ing); len(errs) != 0 {
		t.Errorf("status update: got errors %v", errs)
	}
	bad := st.DeepCopy()
	bad.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "300.1.1.1"}, {Hostname: "10.0.0.1"}}
	got := errStrings(StatusStrategy{}.ValidateUpdate(ctx, bad, ing))
	want := []string{
		`status.loadBalancer.ingress[0].ip: Invalid value: "300.1.1.1": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
		`status.loadBalancer.ingress[1].hostname: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status errors mismatch (-want +got):\n%s", diff)
	}
}

func TestUpdateKeepsStoredLeniency(t *testing.T) {
	old := created(nil)
	old.ResourceVersion = "3"
	old.Spec.TLS[0].SecretName = "Legacy_Name"
	upd := old.DeepCopy()
	upd.Labels = map[string]string{"a": "b"}
	if errs := (Strategy{}).ValidateUpdate(context.Background(), upd, old); len(errs) != 0 {
		t.Errorf("got errors %v, want a stored invalid secret name kept", errs)
	}
	if errs := (Strategy{}).Validate(context.Background(), upd); len(errs) != 1 || !strings.Contains(errs[0].Error(), "secretName") {
		t.Errorf("create: got %v, want the secret name refused", errs)
	}
}

func TestResource(t *testing.T) {
	r := Resource(Config{})
	if r.Group != "networking.k8s.io" || r.Resource != "ingresses" || !r.Namespaced || r.StatusStrategy == nil ||
		!cmp.Equal(r.ShortNames, []string{"ing"}) {
		t.Errorf("got %s/%s namespaced=%v shortNames=%v, want networking.k8s.io/ingresses namespaced with status and short name ing",
			r.Group, r.Resource, r.Namespaced, r.ShortNames)
	}
}

func TestDefaultClass(t *testing.T) {
	at := func(sec int64) metav1.Time { return metav1.NewTime(time.Unix(sec, 0)) }
	class := func(name string, isDefault bool, created metav1.Time) networkingv1.IngressClass {
		c := networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: created}}
		if isDefault {
			c.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}
		}
		return c
	}
	classes := []networkingv1.IngressClass{class("plain", false, at(50)), class("old", true, at(10)), class("b", true, at(20)), class("a", true, at(20))}
	hooks := DefaultClassHooks{classes: func(context.Context) ([]networkingv1.IngressClass, error) { return classes, nil }}
	for _, tc := range []struct {
		name   string
		mutate func(*networkingv1.Ingress)
		want   *string
	}{
		{name: "no class: newest default, first by name", want: ptr.To("a")},
		{name: "class given", mutate: func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = ptr.To("plain") }, want: ptr.To("plain")},
		{name: "annotation given", mutate: func(ing *networkingv1.Ingress) { ing.Annotations = map[string]string{ClassAnnotation: "x"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ing := created(func(ing *networkingv1.Ingress) {
				ing.Spec.IngressClassName = nil
				if tc.mutate != nil {
					tc.mutate(ing)
				}
			})
			if _, err := hooks.BeforeCreate(context.Background(), ing); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ing.Spec.IngressClassName); diff != "" {
				t.Errorf("ingressClassName (-want +got):\n%s", diff)
			}
		})
	}
	if _, ok := DefaultClass(classes[:1]); ok {
		t.Error("no default class: got one")
	}
}
