package endpointslice

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
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

// created returns a slice as stored after a create request.
func created(mutate func(*discoveryv1.EndpointSlice)) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abcde", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.1.0.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			NodeName:   ptr.To("node-1"),
			Zone:       ptr.To("zone-a"),
			Hints:      &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: "zone-a"}}},
		}},
		Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}},
	}
	if mutate != nil {
		mutate(s)
	}
	st := Strategy{}
	st.Default(s)
	st.PrepareForCreate(context.Background(), s)
	return s
}

func TestDefault(t *testing.T) {
	s := created(nil)
	want := []discoveryv1.EndpointPort{{Name: ptr.To(""), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To[int32](80)}}
	if diff := cmp.Diff(want, s.Ports); diff != "" {
		t.Errorf("ports mismatch (-want +got):\n%s", diff)
	}
	if s.Generation != 1 {
		t.Errorf("got generation %d, want 1", s.Generation)
	}
}

func TestValidate(t *testing.T) {
	many := func(n int) []discoveryv1.Endpoint {
		eps := make([]discoveryv1.Endpoint, n)
		for i := range eps {
			eps[i] = discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}}
		}
		return eps
	}
	for _, tc := range []struct {
		name   string
		mutate func(*discoveryv1.EndpointSlice)
		want   []string
	}{
		{name: "valid"},
		{name: "1000 endpoints", mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints = many(1000) }},
		{
			name:   "1001 endpoints",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints = many(1001) },
			want:   []string{"endpoints: Too many: 1001: must have at most 1000 items"},
		},
		{
			name:   "no address type",
			mutate: func(s *discoveryv1.EndpointSlice) { s.AddressType = "" },
			want:   []string{"addressType: Required value"},
		},
		{
			name:   "deprecated IP type",
			mutate: func(s *discoveryv1.EndpointSlice) { s.AddressType = "IP" },
			want:   []string{`addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"`},
		},
		{
			name:   "no addresses",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = nil },
			want:   []string{"endpoints[0].addresses: Required value: must contain at least 1 address"},
		},
		{
			name: "too many addresses",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.Endpoints[0].Addresses = make([]string, 101)
				for i := range s.Endpoints[0].Addresses {
					s.Endpoints[0].Addresses[i] = fmt.Sprintf("10.1.0.%d", i+1)
				}
			},
			want: []string{"endpoints[0].addresses: Too many: 101: must have at most 100 items"},
		},
		{
			name:   "IPv6 in IPv4 slice",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"fd00::1"} },
			want:   []string{`endpoints[0].addresses[0]: Invalid value: "fd00::1": must be an IPv4 address`},
		},
		{
			name:   "loopback",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"127.0.0.1"} },
			want:   []string{`endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`},
		},
		{
			name: "IPv6 link-local",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.AddressType = discoveryv1.AddressTypeIPv6
				s.Endpoints[0].Addresses = []string{"fe80::1"}
			},
			want: []string{`endpoints[0].addresses[0]: Invalid value: "fe80::1": may not be in the link-local range (169.254.0.0/16, fe80::/10)`},
		},
		{
			name: "FQDN",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.AddressType = discoveryv1.AddressTypeFQDN
				s.Endpoints[0].Addresses = []string{"db.example.com", "Not A Name"}
			},
			want: []string{`endpoints[0].addresses[1]: Invalid value: "Not A Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name: "bad node name and hostname",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.Endpoints[0].NodeName = ptr.To("Node_1")
				s.Endpoints[0].Hostname = ptr.To("a.b")
			},
			want: []string{
				`endpoints[0].nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`endpoints[0].hostname: Invalid value: "a.b": must not contain dots`,
			},
		},
		{
			name: "hints",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.Endpoints[0].Hints = &discoveryv1.EndpointHints{
					ForZones: []discoveryv1.ForZone{{Name: "zone-a"}, {Name: "zone-a"}},
					ForNodes: []discoveryv1.ForNode{{Name: "node-1"}, {Name: "-bad"}},
				}
			},
			want: []string{
				`endpoints[0].hints.forZones[1].name: Duplicate value: "zone-a"`,
				`endpoints[0].hints.forNodes[1].name: Invalid value: "-bad": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			},
		},
		{
			name: "too many zone hints",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.Endpoints[0].Hints = &discoveryv1.EndpointHints{ForZones: make([]discoveryv1.ForZone, 9)}
			},
			want: []string{"endpoints[0].hints.forZones: Too many: 9: must have at most 8 items"},
		},
		{
			name: "ports",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.Ports = []discoveryv1.EndpointPort{
					{Name: ptr.To("http"), Port: ptr.To[int32](80)},
					{Name: ptr.To("http"), Port: ptr.To[int32](81), Protocol: ptr.To[corev1.Protocol]("ICMP")},
					{Name: ptr.To("Bad"), AppProtocol: ptr.To("kubernetes.io/h2c")},
				}
			},
			want: []string{
				`ports[1].name: Duplicate value: "http"`,
				`ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`,
				`ports[2].name: Invalid value: "Bad": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
			},
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

func TestUpdate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*discoveryv1.EndpointSlice)
		wantGen int64
		want    []string
	}{
		{name: "annotation only", mutate: func(s *discoveryv1.EndpointSlice) { s.Annotations = map[string]string{"a": "b"} }, wantGen: 1},
		{name: "label", mutate: func(s *discoveryv1.EndpointSlice) { s.Labels["x"] = "y" }, wantGen: 2},
		{name: "condition", mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Conditions.Ready = ptr.To(false) }, wantGen: 2},
		{
			name: "address type",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.AddressType = discoveryv1.AddressTypeIPv6
				s.Endpoints[0].Addresses = []string{"fd00::1"}
			},
			wantGen: 2,
			want:    []string{`addressType: Invalid value: "IPv6": field is immutable`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := created(nil)
			old.ResourceVersion = "4"
			s := old.DeepCopy()
			tc.mutate(s)
			st := Strategy{}
			st.Default(s)
			st.PrepareForUpdate(context.Background(), s, old)
			if s.Generation != tc.wantGen {
				t.Errorf("got generation %d, want %d", s.Generation, tc.wantGen)
			}
			got := errStrings(st.ValidateUpdate(context.Background(), s, old))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeprecatedTopology(t *testing.T) {
	topo := map[string]string{corev1.LabelHostname: "node-7", "rack": "r1"}
	s := created(func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].DeprecatedTopology = topo })
	if s.Endpoints[0].DeprecatedTopology != nil {
		t.Errorf("create: got deprecatedTopology %v, want nil", s.Endpoints[0].DeprecatedTopology)
	}

	// A stored slice written before (e.g. through v1beta1) keeps its
	// node name when a client rewrites endpoints without nodeName.
	old := created(nil)
	old.ResourceVersion = "2"
	old.Endpoints[0].NodeName = nil
	old.Endpoints[0].DeprecatedTopology = topo
	for _, tc := range []struct {
		name         string
		mutate       func(*discoveryv1.EndpointSlice)
		wantNodeName *string
		wantTopology map[string]string
	}{
		{name: "endpoints unchanged", mutate: func(s *discoveryv1.EndpointSlice) { s.Labels["x"] = "y" }, wantTopology: topo},
		{
			name:         "endpoints changed",
			mutate:       func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Conditions.Ready = ptr.To(false) },
			wantNodeName: ptr.To("node-7"),
		},
		{
			name: "unknown node name",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.Endpoints[0].DeprecatedTopology = map[string]string{corev1.LabelHostname: "node-8"}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := old.DeepCopy()
			tc.mutate(s)
			Strategy{}.PrepareForUpdate(context.Background(), s, old)
			if diff := cmp.Diff(tc.wantNodeName, s.Endpoints[0].NodeName); diff != "" {
				t.Errorf("nodeName mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantTopology, s.Endpoints[0].DeprecatedTopology); diff != "" {
				t.Errorf("deprecatedTopology mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResource(t *testing.T) {
	r := Resource()
	if r.Group != "discovery.k8s.io" || r.Resource != "endpointslices" || len(r.ShortNames) != 0 || !r.Namespaced {
		t.Errorf("got %s/%s %v, want discovery.k8s.io/endpointslices", r.Group, r.Resource, r.ShortNames)
	}
}
