package etcd3

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/storage"
)

// ownerMaps stores reservations below /held/ as ConfigMaps naming their
// owner in data.owner.
type ownerMaps struct{}

func (ownerMaps) Prefix() string        { return "/held/" }
func (ownerMaps) Empty() runtime.Object { return &corev1.ConfigMap{} }
func (ownerMaps) NewReservation(key, owner string) (runtime.Object, error) {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: strings.TrimPrefix(key, "/held/")}, Data: map[string]string{"owner": owner}}, nil
}
func (ownerMaps) Owner(obj runtime.Object) string { return obj.(*corev1.ConfigMap).Data["owner"] }

func TestReservationObjects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, _ := startEtcd(t, t.TempDir())
	s, err := New(Config{Client: client, Logger: quietLogger(), ReservationObjects: []storage.ReservationObjects{ownerMaps{}}})
	if err != nil {
		t.Fatal(err)
	}
	const ownerKey = "/registry/configmaps/default/owner"
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: "default"}}
	if err := s.Create(ctx, ownerKey, owner, &corev1.ConfigMap{}, storage.WriteOptions{Reserve: []string{"/held/a", "/plain/a"}}); err != nil {
		t.Fatalf("Create with reservations: %v", err)
	}
	// The reservation is an object readable by the ordinary verbs, and
	// reports its owner.
	held := &corev1.ConfigMap{}
	if err := s.Get(ctx, "/held/a", held); err != nil {
		t.Fatalf("Get of the reservation: %v", err)
	}
	if held.Name != "a" || held.Data["owner"] != ownerKey || held.ResourceVersion == "" {
		t.Errorf("got reservation object %+v, want ConfigMap a owned by %s with a resourceVersion", held, ownerKey)
	}
	got, _, err := s.Reservations(ctx, "/held/")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"/held/a": ownerKey}, got); diff != "" {
		t.Errorf("reservations (-want +got):\n%s", diff)
	}
	plain, _, _ := s.Reservations(ctx, "/plain/")
	if plain["/plain/a"] != ownerKey {
		t.Errorf("got plain reservations %v, want the bare owner string", plain)
	}

	// An object a client stores there holds the key against reservations.
	client2 := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Data: map[string]string{"owner": "external:x"}}
	if err := s.Create(ctx, "/held/b", client2, &corev1.ConfigMap{}, storage.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "default"}}
	err = s.Create(ctx, "/registry/configmaps/default/other", other, &corev1.ConfigMap{}, storage.WriteOptions{Reserve: []string{"/held/b"}})
	if !storage.IsReserved(err) {
		t.Errorf("reserving a client's object: got %v, want ErrReserved", err)
	}
	if err := s.Reserve(ctx, "/held/b", ownerKey); !storage.IsReserved(err) {
		t.Errorf("Reserve of a client's object: got %v, want ErrReserved", err)
	}
	if err := s.Create(ctx, "/held/a", client2, &corev1.ConfigMap{}, storage.WriteOptions{}); !storage.IsExists(err) {
		t.Errorf("client create over a reservation: got %v, want ErrExists", err)
	}

	// Release with an owner reads it from the object.
	if err := s.Release(ctx, "/held/b", ownerKey); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "/held/a", ownerKey); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.Reservations(ctx, "/held/")
	if diff := cmp.Diff(map[string]string{"/held/b": "external:x"}, got); diff != "" {
		t.Errorf("after releases (-want +got):\n%s", diff)
	}
	if err := s.Reserve(ctx, "/held/c", ownerKey); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	if err := s.Delete(ctx, ownerKey, &corev1.ConfigMap{}, nil, nil, storage.WriteOptions{Release: []string{"/held/c", "/plain/a"}}); err != nil {
		t.Fatalf("Delete with releases: %v", err)
	}
	got, _, _ = s.Reservations(ctx, "/held/")
	if _, ok := got["/held/c"]; ok || len(got) != 1 {
		t.Errorf("after delete: got %v, want only /held/b", got)
	}
}
