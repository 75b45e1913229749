package podnet

import (
	"context"
	"fmt"
	"net/netip"

	"sigs.k8s.io/knftables"
)

// masqTable is the nftables table (family ip) holding the pod egress NAT.
const masqTable = "svcnet-podnet"

// masqueradeRule is the rule of the table: traffic of this node's pods to
// anywhere outside the cluster's pod network leaves with the node's
// address, so replies find their way back (CNI bridge's ipMasq). Pod to
// pod traffic, also across nodes, keeps its source.
func masqueradeRule(podCIDR, clusterCIDR netip.Prefix) string {
	return fmt.Sprintf("ip saddr %s ip daddr != %s masquerade", podCIDR.Masked(), clusterCIDR.Masked())
}

// EnsureMasquerade (re)writes the pod egress masquerade rule. It is a no-op
// without a ClusterCIDR or when podCIDR is not IPv4.
func (m *Manager) EnsureMasquerade(ctx context.Context) error {
	return m.ensureMasquerade(ctx, m.cfg.NFT)
}

func (m *Manager) ensureMasquerade(ctx context.Context, nft knftables.Interface) error {
	cc := m.cfg.ClusterCIDR
	if !cc.IsValid() || !cc.Addr().Is4() || !m.cfg.PodCIDR.Addr().Is4() {
		return nil
	}
	if nft == nil {
		var err error
		if nft, err = knftables.New(knftables.IPv4Family, masqTable); err != nil {
			return fmt.Errorf("pod masquerade: %w", err)
		}
	}
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("svcnet pod egress masquerade")})
	chain := &knftables.Chain{Name: "postrouting", Type: knftables.PtrTo(knftables.NATType),
		Hook: knftables.PtrTo(knftables.PostroutingHook), Priority: knftables.PtrTo(knftables.SNATPriority)}
	tx.Add(chain)
	tx.Flush(chain)
	tx.Add(&knftables.Rule{Chain: "postrouting", Rule: masqueradeRule(m.cfg.PodCIDR, cc)})
	if err := nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("pod masquerade: %w", err)
	}
	return nil
}
