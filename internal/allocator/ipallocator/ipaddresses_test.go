package ipallocator

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/storage"
)

func TestIPAddresses(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	f := IPAddresses{Now: func() time.Time { return now }}
	obj, err := f.NewReservation(Key(netip.MustParseAddr("fd00::a")), ServicePrefix+"default/web")
	if err != nil {
		t.Fatal(err)
	}
	ip := obj.(*networkingv1.IPAddress)
	if ip.UID == "" {
		t.Error("got no UID")
	}
	ip.UID = ""
	want := &networkingv1.IPAddress{
		ObjectMeta: metav1.ObjectMeta{Name: "fd00::a", CreationTimestamp: metav1.NewTime(now),
			Labels: map[string]string{networkingv1.LabelIPAddressFamily: "IPv6", networkingv1.LabelManagedBy: ManagedBy}},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "web"}},
	}
	if diff := cmp.Diff(want, ip); diff != "" {
		t.Errorf("IPAddress (-want +got):\n%s", diff)
	}
	if _, err := f.NewReservation(Key(netip.MustParseAddr("10.96.0.1")), "/registry/configmaps/default/x"); err == nil {
		t.Error("owner that is no Service: got no error")
	}

	for _, tc := range []struct {
		name   string
		labels map[string]string
		ref    *networkingv1.ParentReference
		want   string
	}{
		{name: "service", labels: want.Labels, ref: want.Spec.ParentRef, want: ServicePrefix + "default/web"},
		{name: "service, not managed", ref: want.Spec.ParentRef, want: "external:services/default/web"},
		{name: "other parent", labels: want.Labels, ref: &networkingv1.ParentReference{Group: "mygroup", Resource: "myresources", Namespace: "foo", Name: "bar"},
			want: "external:myresources.mygroup/foo/bar"},
		{name: "no parent", want: "external:<none>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Labels: tc.labels}, Spec: networkingv1.IPAddressSpec{ParentRef: tc.ref}}
			if got := f.Owner(obj); got != tc.want {
				t.Errorf("got owner %q, want %q", got, tc.want)
			}
		})
	}
}

// keyStore is an in-memory store of reservation keys.
type keyStore struct {
	storage.Interface
	keys map[string]string
}

func (s *keyStore) Reservations(_ context.Context, prefix string) (map[string]string, int64, error) {
	out := map[string]string{}
	for k, v := range s.keys {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			out[k] = v
		}
	}
	return out, 1, nil
}

func (s *keyStore) Reserve(_ context.Context, key, owner string) error {
	if _, ok := s.keys[key]; ok {
		return &storage.ReservedError{Key: key}
	}
	s.keys[key] = owner
	return nil
}

func (s *keyStore) Release(_ context.Context, key, owner string) error {
	if owner == "" || s.keys[key] == owner {
		delete(s.keys, key)
	}
	return nil
}

func TestMigrateLegacy(t *testing.T) {
	web, db := ServicePrefix+"default/web", ServicePrefix+"default/db"
	store := &keyStore{keys: map[string]string{
		LegacyKeyPrefix + "10.96.0.10":         web,
		LegacyKeyPrefix + "10.96.0.11":         db,
		Key(netip.MustParseAddr("10.96.0.11")): db, // moved by a start that crashed before the release
		Key(netip.MustParseAddr("10.96.0.1")):  ServicePrefix + "default/kubernetes",
	}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	moved, err := MigrateLegacy(context.Background(), store, log)
	if err != nil || moved != 1 {
		t.Errorf("got %d moved, error %v; want 1, nil", moved, err)
	}
	want := map[string]string{
		KeyPrefix + "10.96.0.10": web,
		KeyPrefix + "10.96.0.11": db,
		KeyPrefix + "10.96.0.1":  ServicePrefix + "default/kubernetes",
	}
	if diff := cmp.Diff(want, store.keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if moved, err := MigrateLegacy(context.Background(), store, log); moved != 0 || err != nil {
		t.Errorf("second run: got %d moved, error %v; want 0, nil", moved, err)
	}
}
