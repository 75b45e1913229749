package ipallocator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/svcnet/svcnet/internal/storage"
)

// ServicePrefix is where Services are stored; the owner of a ClusterIP
// reservation is the storage key of its Service.
const ServicePrefix = "/registry/services/specs/"

// LegacyKeyPrefix is where earlier releases kept ClusterIP reservations as
// bare owner strings.
const LegacyKeyPrefix = "/registry/reservations/serviceips/"

// ManagedBy is the value of the networking.k8s.io/v1 LabelManagedBy label
// on the IPAddresses of Services, as kube-apiserver's allocator sets it.
const ManagedBy = "ipallocator.k8s.io"

// ExternalOwnerPrefix starts the owner of an IPAddress that no Service
// holds (a client created it for another parent): "external:" plus the
// parent as resource[.group][/namespace]/name. It is no storage key, so
// repair loops leave such addresses alone.
const ExternalOwnerPrefix = "external:"

// IPAddresses stores ClusterIP reservations as IPAddress objects.
type IPAddresses struct {
	// Now stamps creationTimestamp; time.Now when nil.
	Now func() time.Time
}

var _ storage.ReservationObjects = IPAddresses{}

// Prefix implements storage.ReservationObjects.
func (IPAddresses) Prefix() string { return KeyPrefix }

// Empty implements storage.ReservationObjects.
func (IPAddresses) Empty() runtime.Object { return &networkingv1.IPAddress{} }

// NewReservation returns the IPAddress of a Service's ClusterIP: named for
// the address, labelled with its family and ManagedBy, parentRef the
// Service that owner (its storage key) names.
func (a IPAddresses) NewReservation(key, owner string) (runtime.Object, error) {
	ip, ok := ParseKey(key)
	if !ok {
		return nil, fmt.Errorf("ipallocator: %q is no IPAddress key", key)
	}
	ns, name, ok := strings.Cut(strings.TrimPrefix(owner, ServicePrefix), "/")
	if !strings.HasPrefix(owner, ServicePrefix) || !ok || ns == "" || name == "" {
		return nil, fmt.Errorf("ipallocator: owner %q of %s is no Service", owner, ip)
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	family := string(corev1.IPv4Protocol)
	if ip.Is6() {
		family = string(corev1.IPv6Protocol)
	}
	return &networkingv1.IPAddress{
		ObjectMeta: metav1.ObjectMeta{
			Name:              ip.String(),
			UID:               uuid.NewUUID(),
			CreationTimestamp: metav1.NewTime(now().Truncate(time.Second)),
			Labels:            map[string]string{networkingv1.LabelIPAddressFamily: family, networkingv1.LabelManagedBy: ManagedBy},
		},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: ns, Name: name}},
	}, nil
}

// Owner returns the storage key of the Service an IPAddress belongs to:
// one ManagedBy labels and whose parent is a Service. Any other gives
// ExternalOwnerPrefix and its parent.
func (IPAddresses) Owner(obj runtime.Object) string {
	ip := obj.(*networkingv1.IPAddress)
	ref := ip.Spec.ParentRef
	if ref == nil {
		return ExternalOwnerPrefix + "<none>"
	}
	if ip.Labels[networkingv1.LabelManagedBy] == ManagedBy && ref.Group == "" && ref.Resource == "services" &&
		ref.Namespace != "" && ref.Name != "" {
		return ServicePrefix + ref.Namespace + "/" + ref.Name
	}
	parent := strings.ToLower(schema.GroupResource{Group: ref.Group, Resource: ref.Resource}.String())
	if ref.Namespace != "" {
		parent += "/" + ref.Namespace
	}
	return ExternalOwnerPrefix + parent + "/" + ref.Name
}

// MigrateLegacy moves the ClusterIP reservations of earlier releases
// (LegacyKeyPrefix) to IPAddress keys, one address at a time: the new key
// is reserved for the same owner before the old one is released, so a
// crash in between leaves the old key to the next start and never frees an
// address in use. It returns how many it moved.
func MigrateLegacy(ctx context.Context, store storage.Interface, log *slog.Logger) (int, error) {
	old, _, err := store.Reservations(ctx, LegacyKeyPrefix)
	if err != nil {
		return 0, fmt.Errorf("listing legacy IP reservations: %w", err)
	}
	moved := 0
	var errs []error
	for key, owner := range old {
		ip, err := netip.ParseAddr(strings.TrimPrefix(key, LegacyKeyPrefix))
		if err != nil {
			errs = append(errs, fmt.Errorf("legacy IP reservation %s: %w", key, err))
			continue
		}
		err = store.Reserve(ctx, Key(ip), owner)
		switch {
		case err == nil:
			moved++
		case storage.IsReserved(err):
			// Moved by an earlier start that stopped before the release,
			// or held by someone else: the repair loop sorts it out.
			log.Warn("Found a legacy IP reservation already held as an IPAddress", "ip", ip.String(), "owner", owner)
		default:
			errs = append(errs, fmt.Errorf("moving %s: %w", key, err))
			continue
		}
		if err := store.Release(ctx, key, owner); err != nil {
			errs = append(errs, fmt.Errorf("releasing %s: %w", key, err))
		}
	}
	return moved, errors.Join(errs...)
}
