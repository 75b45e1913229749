package podnet

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"sigs.k8s.io/knftables"
)

func TestEnsureMasquerade(t *testing.T) {
	tests := []struct {
		name        string
		podCIDR     string
		clusterCIDR string
		want        string // the rule, "" for no table
	}{
		{"masquerades off-cluster traffic", "10.244.1.0/24", "10.244.0.0/16", "ip saddr 10.244.1.0/24 ip daddr != 10.244.0.0/16 masquerade"},
		{"cluster CIDR is masked", "10.244.1.0/24", "10.244.3.9/16", "ip saddr 10.244.1.0/24 ip daddr != 10.244.0.0/16 masquerade"},
		{"no cluster CIDR", "10.244.1.0/24", "", ""},
		{"IPv6 cluster CIDR", "10.244.1.0/24", "fd00::/48", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &Manager{cfg: Config{PodCIDR: netip.MustParsePrefix(tc.podCIDR)}}
			if tc.clusterCIDR != "" {
				m.cfg.ClusterCIDR = netip.MustParsePrefix(tc.clusterCIDR)
			}
			fake := knftables.NewFake(knftables.IPv4Family, masqTable)
			// Twice: the second run must replace, not append.
			for range 2 {
				if err := m.ensureMasquerade(context.Background(), fake); err != nil {
					t.Fatal(err)
				}
			}
			if tc.want == "" {
				if fake.Table != nil {
					t.Errorf("got table %v, want none", fake.Dump())
				}
				return
			}
			rules := fake.Table.Chains["postrouting"].Rules
			var got []string
			for _, r := range rules {
				got = append(got, r.Rule)
			}
			if strings.Join(got, "\n") != tc.want {
				t.Errorf("got rules %q, want [%q]", got, tc.want)
			}
		})
	}
}
