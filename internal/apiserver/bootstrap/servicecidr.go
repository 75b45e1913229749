package bootstrap

import (
	"context"
	"fmt"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultServiceCIDR names the ServiceCIDR of --service-cluster-ip-range,
// as kube-apiserver names it.
const DefaultServiceCIDR = "kubernetes"

// readyMessage is the Ready condition's message on the default
// ServiceCIDR. Like upstream's, the condition has no reason.
const readyMessage = "Kubernetes default Service CIDR is ready"

// ensureServiceCIDR creates the default ServiceCIDR when it is missing and
// marks it Ready. A stored one with other CIDRs is kept (the flags may
// differ between servers during a change) unless the flags only add the
// second IP family to it, which upstream allows as well.
func (b *Bootstrap) ensureServiceCIDR(ctx context.Context) error {
	if len(b.cfg.ServiceCIDRs) == 0 {
		return nil
	}
	want := make([]string, len(b.cfg.ServiceCIDRs))
	for i, p := range b.cfg.ServiceCIDRs {
		want[i] = p.Masked().String()
	}
	cidrs := b.cfg.Client.NetworkingV1().ServiceCIDRs()
	cur, err := cidrs.Get(ctx, DefaultServiceCIDR, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cur, err = cidrs.Create(ctx, &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: DefaultServiceCIDR},
			Spec: networkingv1.ServiceCIDRSpec{CIDRs: want}}, metav1.CreateOptions{FieldManager: "svcnet-bootstrap"})
		if apierrors.IsAlreadyExists(err) {
			cur, err = cidrs.Get(ctx, DefaultServiceCIDR, metav1.GetOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("servicecidr %s: %w", DefaultServiceCIDR, err)
	}
	switch {
	case slices.Equal(cur.Spec.CIDRs, want):
	case len(cur.Spec.CIDRs) == 1 && len(want) == 2 && cur.Spec.CIDRs[0] == want[0]:
		cur.Spec.CIDRs = want
		if cur, err = cidrs.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "svcnet-bootstrap"}); err != nil {
			return fmt.Errorf("servicecidr %s: %w", DefaultServiceCIDR, err)
		}
	default:
		b.cfg.Logger.Warn("Kept the default ServiceCIDR, which differs from --service-cluster-ip-range",
			"serviceCIDR", cur.Spec.CIDRs, "flags", want)
	}
	if meta.IsStatusConditionTrue(cur.Status.Conditions, networkingv1.ServiceCIDRConditionReady) {
		return nil
	}
	meta.SetStatusCondition(&cur.Status.Conditions, metav1.Condition{Type: networkingv1.ServiceCIDRConditionReady,
		Status: metav1.ConditionTrue, Message: readyMessage})
	if _, err := cidrs.UpdateStatus(ctx, cur, metav1.UpdateOptions{FieldManager: "svcnet-bootstrap"}); err != nil {
		return fmt.Errorf("servicecidr %s status: %w", DefaultServiceCIDR, err)
	}
	return nil
}
