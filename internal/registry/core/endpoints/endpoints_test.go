package endpoints

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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

func decoded(subsets ...corev1.EndpointSubset) *corev1.Endpoints {
	e := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Subsets: subsets}
	Strategy{}.Default(e)
	return e
}

func TestDefault(t *testing.T) {
	e := decoded(corev1.EndpointSubset{
		Addresses: []corev1.EndpointAddress{{IP: "10.1.0.1"}},
		Ports:     []corev1.EndpointPort{{Port: 80}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}},
	})
	want := []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}
	if diff := cmp.Diff(want, e.Subsets[0].Ports); diff != "" {
		t.Errorf("ports mismatch (-want +got):\n%s", diff)
	}
}

func TestValidate(t *testing.T) {
	addr := func(ip string) []corev1.EndpointAddress { return []corev1.EndpointAddress{{IP: ip}} }
	port80 := []corev1.EndpointPort{{Port: 80}}
	for _, tc := range []struct {
		name   string
		subset corev1.EndpointSubset
		want   []string
	}{
		{name: "valid", subset: corev1.EndpointSubset{Addresses: addr("10.1.0.1"), Ports: port80}},
		{name: "headless without ports", subset: corev1.EndpointSubset{NotReadyAddresses: addr("fd00::1")}},
		{
			name:   "no addresses",
			subset: corev1.EndpointSubset{Ports: port80},
			want:   []string{"subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"},
		},
		{
			name:   "loopback",
			subset: corev1.EndpointSubset{Addresses: addr("127.0.0.1"), Ports: port80},
			want:   []string{`subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)`},
		},
		{
			name:   "link-local",
			subset: corev1.EndpointSubset{NotReadyAddresses: addr("169.254.1.1")},
			want:   []string{`subsets[0].notReadyAddresses[0].ip: Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, fe80::/10)`},
		},
		{
			name:   "link-local multicast",
			subset: corev1.EndpointSubset{Addresses: addr("224.0.0.1")},
			want:   []string{`subsets[0].addresses[0].ip: Invalid value: "224.0.0.1": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)`},
		},
		{
			name:   "unspecified",
			subset: corev1.EndpointSubset{Addresses: addr("0.0.0.0")},
			want:   []string{`subsets[0].addresses[0].ip: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)`},
		},
		{
			name:   "not an IP",
			subset: corev1.EndpointSubset{Addresses: addr("web-1")},
			want: []string{
				`subsets[0].addresses[0].ip: Invalid value: "web-1": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
				`subsets[0].addresses[0].ip: Invalid value: "web-1": must be a valid IP address`,
			},
		},
		{
			name: "hostname and node name",
			subset: corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{
				{IP: "10.1.0.1", Hostname: "Web_1", NodeName: ptr.To("Node_1")},
			}},
			want: []string{
				`subsets[0].addresses[0].hostname: Invalid value: "Web_1": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
				`subsets[0].addresses[0].nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			},
		},
		{
			name: "ports",
			subset: corev1.EndpointSubset{Addresses: addr("10.1.0.1"), Ports: []corev1.EndpointPort{
				{Port: 80},
				{Name: "b", Port: 0, Protocol: "ICMP", AppProtocol: ptr.To("a b")},
			}},
			want: []string{
				"subsets[0].ports[0].name: Required value",
				"subsets[0].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
				`subsets[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`,
				`subsets[0].ports[1].appProtocol: Invalid value: "a b": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := decoded(tc.subset)
			s := Strategy{}
			s.PrepareForCreate(context.Background(), e)
			got := errStrings(s.Validate(context.Background(), e))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRepackSubsets(t *testing.T) {
	pod := func(ip, uid string) corev1.EndpointAddress {
		return corev1.EndpointAddress{IP: ip, TargetRef: &corev1.ObjectReference{Kind: "Pod", UID: types.UID("u" + ip[len(ip)-1:] + uid)}}
	}
	http := corev1.EndpointPort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}
	dns := corev1.EndpointPort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}
	for _, tc := range []struct {
		name string
		in   []corev1.EndpointSubset
		want []corev1.EndpointSubset
	}{
		{name: "empty", in: nil, want: []corev1.EndpointSubset{}},
		{
			name: "merge same ports and sort",
			in: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{pod("10.1.0.2", "")}, Ports: []corev1.EndpointPort{http}},
				{Addresses: []corev1.EndpointAddress{pod("10.1.0.1", "")}, Ports: []corev1.EndpointPort{http}},
			},
			want: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{pod("10.1.0.1", ""), pod("10.1.0.2", "")}, Ports: []corev1.EndpointPort{http}},
			},
		},
		{
			name: "split by port set, ready wins, no-port kept",
			in: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{pod("10.1.0.1", "")}, NotReadyAddresses: []corev1.EndpointAddress{pod("10.1.0.3", "")}, Ports: []corev1.EndpointPort{http, dns}},
				{Addresses: []corev1.EndpointAddress{pod("10.1.0.2", "")}, Ports: []corev1.EndpointPort{http}},
				{NotReadyAddresses: []corev1.EndpointAddress{pod("10.1.0.1", "")}, Ports: []corev1.EndpointPort{dns}},
				{Addresses: []corev1.EndpointAddress{pod("10.1.0.9", "")}},
			},
			want: []corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{pod("10.1.0.1", ""), pod("10.1.0.2", "")}, NotReadyAddresses: []corev1.EndpointAddress{pod("10.1.0.3", "")}, Ports: []corev1.EndpointPort{http}},
				{Addresses: []corev1.EndpointAddress{pod("10.1.0.1", "")}, NotReadyAddresses: []corev1.EndpointAddress{pod("10.1.0.3", "")}, Ports: []corev1.EndpointPort{dns}},
				{Addresses: []corev1.EndpointAddress{pod("10.1.0.9", "")}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RepackSubsets(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("subsets mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrepareRepacksOnlyValid(t *testing.T) {
	invalid := decoded(
		corev1.EndpointSubset{Ports: []corev1.EndpointPort{{Port: 80}}},
		corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{{IP: "10.1.0.1"}}},
	)
	Strategy{}.PrepareForCreate(context.Background(), invalid)
	if len(invalid.Subsets) != 2 {
		t.Errorf("got %d subsets, want the 2 invalid ones untouched", len(invalid.Subsets))
	}
	valid := decoded(
		corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{{IP: "10.1.0.2"}}, Ports: []corev1.EndpointPort{{Port: 80}}},
		corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{{IP: "10.1.0.1"}}, Ports: []corev1.EndpointPort{{Port: 80}}},
	)
	old := valid.DeepCopy()
	old.ResourceVersion = "1"
	valid.ResourceVersion = "1"
	Strategy{}.PrepareForUpdate(context.Background(), valid, old)
	want := []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.1.0.1"}, {IP: "10.1.0.2"}},
		Ports:     []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}},
	}}
	if diff := cmp.Diff(want, valid.Subsets); diff != "" {
		t.Errorf("subsets mismatch (-want +got):\n%s", diff)
	}
	if errs := (Strategy{}).ValidateUpdate(context.Background(), valid, old); len(errs) != 0 {
		t.Errorf("got errors %v, want none", errs)
	}
}

func TestResource(t *testing.T) {
	r := Resource()
	if r.Resource != "endpoints" || r.SingularName != "endpoints" || !r.Namespaced {
		t.Errorf("got %s/%s, want endpoints/endpoints", r.Resource, r.SingularName)
	}
	if diff := cmp.Diff([]string{"ep"}, r.ShortNames); diff != "" {
		t.Errorf("short names (-want +got):\n%s", diff)
	}
}
