package dnsconfig

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func TestParseResolvConf(t *testing.T) {
	in := "# comment\nnameserver 10.0.0.2\nsearch corp.example. lab\nnameserver 10.0.0.3 ; x\noptions rotate timeout:1\n"
	got, err := ParseResolvConf(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := ResolvConf{
		Nameservers: []string{"10.0.0.2", "10.0.0.3"},
		Searches:    []string{"corp.example", "lab"},
		Options:     []string{"rotate", "timeout:1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseResolvConf() mismatch (-want +got):\n%s", diff)
	}
}

func TestForPod(t *testing.T) {
	host := ResolvConf{Nameservers: []string{"192.0.2.53"}, Searches: []string{"corp.example"}, Options: []string{"rotate"}}
	cfg := Config{ClusterDNS: []string{"10.96.0.10"}, ClusterDomain: "cluster.local", Host: host}
	pod := func(policy v1.DNSPolicy, hostNet bool, dc *v1.PodDNSConfig) *v1.Pod {
		return &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "p"},
			Spec:       v1.PodSpec{DNSPolicy: policy, HostNetwork: hostNet, DNSConfig: dc},
		}
	}
	clusterFirst := ResolvConf{
		Nameservers: []string{"10.96.0.10"},
		Searches:    []string{"app.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"},
		Options:     []string{"ndots:5"},
	}
	tests := []struct {
		name string
		cfg  Config
		pod  *v1.Pod
		want ResolvConf
	}{
		{name: "cluster first", cfg: cfg, pod: pod(v1.DNSClusterFirst, false, nil), want: clusterFirst},
		{name: "empty policy means cluster first", cfg: cfg, pod: pod("", false, nil), want: clusterFirst},
		{name: "cluster first on host network is default", cfg: cfg, pod: pod(v1.DNSClusterFirst, true, nil), want: host},
		{name: "cluster first with host net", cfg: cfg, pod: pod(v1.DNSClusterFirstWithHostNet, true, nil), want: clusterFirst},
		{name: "cluster first without cluster dns is default", cfg: Config{ClusterDomain: "cluster.local", Host: host},
			pod: pod(v1.DNSClusterFirst, false, nil), want: host},
		{name: "default", cfg: cfg, pod: pod(v1.DNSDefault, false, nil), want: host},
		{name: "none with dns config", cfg: cfg, pod: pod(v1.DNSNone, false, &v1.PodDNSConfig{
			Nameservers: []string{"1.2.3.4", "1.2.3.4"},
			Searches:    []string{"ns1.svc.cluster-domain.example", "my.dns.search.suffix"},
			Options:     []v1.PodDNSConfigOption{{Name: "ndots", Value: ptr("2")}, {Name: "edns0"}},
		}), want: ResolvConf{
			Nameservers: []string{"1.2.3.4"},
			Searches:    []string{"ns1.svc.cluster-domain.example", "my.dns.search.suffix"},
			Options:     []string{"ndots:2", "edns0"},
		}},
		{name: "cluster first merged with dns config", cfg: cfg, pod: pod(v1.DNSClusterFirst, false, &v1.PodDNSConfig{
			Nameservers: []string{"10.96.0.10", "8.8.8.8"},
			Searches:    []string{"cluster.local", "extra"},
			Options:     []v1.PodDNSConfigOption{{Name: "ndots", Value: ptr("1")}},
		}), want: ResolvConf{
			Nameservers: []string{"10.96.0.10", "8.8.8.8"},
			Searches:    []string{"app.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "extra"},
			Options:     []string{"ndots:1"},
		}},
		{name: "nameservers capped at three", cfg: cfg, pod: pod(v1.DNSNone, false, &v1.PodDNSConfig{
			Nameservers: []string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"},
		}), want: ResolvConf{Nameservers: []string{"1.1.1.1", "2.2.2.2", "3.3.3.3"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ForPod(tc.cfg, tc.pod)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ForPod() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolvConfString(t *testing.T) {
	got := ResolvConf{Nameservers: []string{"10.96.0.10"}, Searches: []string{"a", "b"}, Options: []string{"ndots:5"}}.String()
	want := "search a b\nnameserver 10.96.0.10\noptions ndots:5\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

const hostsHeader = "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"

func TestHostnameAndHosts(t *testing.T) {
	long := strings.Repeat("a", 62) + "-bcd"
	tests := []struct {
		name         string
		pod          *v1.Pod
		wantHostname string
		wantDomain   string
		wantHosts    string
	}{
		{
			name:         "plain pod",
			pod:          &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "web-1"}},
			wantHostname: "web-1",
			wantHosts:    hostsHeader + "10.244.0.5\tweb-1\n",
		},
		{
			name: "hostname and subdomain",
			pod: &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "x"},
				Spec: v1.PodSpec{Hostname: "busybox-1", Subdomain: "busybox-subdomain"}},
			wantHostname: "busybox-1",
			wantDomain:   "busybox-subdomain.app.svc.cluster.local",
			wantHosts:    hostsHeader + "10.244.0.5\tbusybox-1.busybox-subdomain.app.svc.cluster.local\tbusybox-1\n",
		},
		{
			name: "fqdn hostname",
			pod: &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "x"},
				Spec: v1.PodSpec{Hostname: "h", Subdomain: "s", SetHostnameAsFQDN: ptr(true)}},
			wantHostname: "h.s.app.svc.cluster.local",
			wantDomain:   "s.app.svc.cluster.local",
			wantHosts:    hostsHeader + "10.244.0.5\th.s.app.svc.cluster.local\th\n",
		},
		{
			name:         "long name truncated",
			pod:          &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: long}},
			wantHostname: strings.Repeat("a", 62),
			wantHosts:    hostsHeader + "10.244.0.5\t" + strings.Repeat("a", 62) + "\n",
		},
		{
			name: "host aliases",
			pod: &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "p"},
				Spec: v1.PodSpec{HostAliases: []v1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"foo.local", "bar.local"}}}}},
			wantHostname: "p",
			wantHosts: hostsHeader + "10.244.0.5\tp\n\n# Entries added by HostAliases.\n" +
				"127.0.0.1\tfoo.local\tbar.local\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, d := Hostname(tc.pod, "cluster.local")
			if h != tc.wantHostname || d != tc.wantDomain {
				t.Errorf("Hostname() got (%q, %q), want (%q, %q)", h, d, tc.wantHostname, tc.wantDomain)
			}
			if got := Hosts(tc.pod, []string{"10.244.0.5"}, h, d); got != tc.wantHosts {
				t.Errorf("Hosts() mismatch (-want +got):\n%s", cmp.Diff(tc.wantHosts, got))
			}
		})
	}
}
