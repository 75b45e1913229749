package loadbalancer

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The pools are published for the nodes' announcers, which answer ARP only
// for addresses of these pools: an address written into a Service's status
// by anyone else is not claimed on the network.
const (
	PoolsNamespace = metav1.NamespaceSystem
	PoolsConfigMap = "svcnet-loadbalancer-pools"
	// PoolsKey holds the pools as "first-last" ranges, comma-separated.
	PoolsKey = "pools"
)

// FormatPools returns the PoolsKey value of pools.
func FormatPools(pools []Pool) string {
	parts := make([]string, len(pools))
	for i, p := range pools {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// publishPools writes the controller's pools into the PoolsConfigMap,
// retrying until it succeeds or ctx ends (kube-system may not exist yet
// on a fresh cluster).
func (c *Controller) publishPools(ctx context.Context) {
	want := FormatPools(c.cfg.Pools)
	cms := c.cfg.Client.CoreV1().ConfigMaps(PoolsNamespace)
	_ = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		cm, err := cms.Get(ctx, PoolsConfigMap, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: PoolsConfigMap},
				Data: map[string]string{PoolsKey: want}}, metav1.CreateOptions{})
		case err == nil && cm.Data[PoolsKey] != want:
			cm = cm.DeepCopy()
			if cm.Data == nil {
				cm.Data = map[string]string{}
			}
			cm.Data[PoolsKey] = want
			_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		}
		if err != nil && ctx.Err() == nil {
			c.cfg.Logger.Debug("Retrying to publish the LoadBalancer pools", "configMap", PoolsNamespace+"/"+PoolsConfigMap, "err", err)
			return false, nil
		}
		return true, nil
	})
}
