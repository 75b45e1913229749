package service

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svcnet/svcnet/internal/allocator/ipallocator"
	"github.com/svcnet/svcnet/internal/allocator/portallocator"
	"github.com/svcnet/svcnet/internal/storage"
)

// harness runs the API server's write pipeline (defaulting, prepare,
// validate, hooks, store, conflict retry) over a memStore.
type harness struct {
	t     *testing.T
	store *memStore
	hooks *Hooks
	ips   []*ipallocator.Allocator
	ports *portallocator.Allocator
}

func newHarness(t *testing.T, cidrs ...string) *harness {
	t.Helper()
	if len(cidrs) == 0 {
		cidrs = []string{"10.96.0.0/12"}
	}
	h := &harness{t: t, store: newMemStore()}
	for _, c := range cidrs {
		a, err := ipallocator.New(ipallocator.Config{CIDR: netip.MustParsePrefix(c)})
		if err != nil {
			t.Fatal(err)
		}
		h.ips = append(h.ips, a)
	}
	var err error
	if h.ports, err = portallocator.New(portallocator.Config{Range: portallocator.Range{Base: 30000, Size: 2768}}); err != nil {
		t.Fatal(err)
	}
	res, err := Resource(Config{IPAllocators: h.ips, PortAllocator: h.ports, Store: h.store})
	if err != nil {
		t.Fatal(err)
	}
	h.hooks = res.Hooks.(*Hooks)
	return h
}

func key(name string) string { return "/registry/services/specs/default/" + name }

const maxRetries = 16

func (h *harness) create(svc *corev1.Service) (*corev1.Service, error) {
	ctx := context.Background()
	obj := svc.DeepCopy()
	obj.Namespace = "default"
	s := Strategy{}
	s.Default(obj)
	s.PrepareForCreate(ctx, obj)
	if errs := s.Validate(ctx, obj); len(errs) > 0 {
		return nil, apierrors.NewInvalid(serviceKind, obj.Name, errs)
	}
	for attempt := 0; attempt < maxRetries; attempt++ {
		cand := obj.DeepCopy()
		opts, err := h.hooks.BeforeCreate(ctx, cand)
		if err != nil {
			return nil, err
		}
		out := &corev1.Service{}
		err = h.store.Create(ctx, key(obj.Name), cand, out, opts)
		var re *storage.ReservedError
		if !errors.As(err, &re) {
			return out, err
		}
		if cerr := h.hooks.ReservationConflict(cand, re.Key); cerr != nil {
			return nil, cerr
		}
	}
	return nil, errors.New("too many retries")
}

func (h *harness) mustCreate(svc *corev1.Service) *corev1.Service {
	h.t.Helper()
	out, err := h.create(svc)
	if err != nil {
		h.t.Fatalf("create %s: %v", svc.Name, err)
	}
	return out
}

func (h *harness) update(svc *corev1.Service) (*corev1.Service, error) {
	ctx := context.Background()
	h.store.mu.Lock()
	old := h.store.objs[key(svc.Name)].DeepCopy()
	h.store.mu.Unlock()
	obj := svc.DeepCopy()
	obj.Namespace = "default"
	obj.ResourceVersion = old.ResourceVersion
	s := Strategy{}
	s.Default(obj)
	for attempt := 0; attempt < maxRetries; attempt++ {
		cand := obj.DeepCopy()
		s.PrepareForUpdate(ctx, cand, old)
		if errs := s.ValidateUpdate(ctx, cand, old); len(errs) > 0 {
			return nil, apierrors.NewInvalid(serviceKind, obj.Name, errs)
		}
		opts, err := h.hooks.BeforeUpdate(ctx, cand, old)
		if err != nil {
			return nil, err
		}
		err = h.store.update(key(obj.Name), cand, opts)
		var re *storage.ReservedError
		if !errors.As(err, &re) {
			return cand, err
		}
		if cerr := h.hooks.ReservationConflict(cand, re.Key); cerr != nil {
			return nil, cerr
		}
	}
	return nil, errors.New("too many retries")
}

func (h *harness) mustUpdate(svc *corev1.Service) *corev1.Service {
	h.t.Helper()
	out, err := h.update(svc)
	if err != nil {
		h.t.Fatalf("update %s: %v", svc.Name, err)
	}
	return out
}

func (h *harness) delete(name string) {
	h.t.Helper()
	ctx := context.Background()
	h.store.mu.Lock()
	cur := h.store.objs[key(name)].DeepCopy()
	h.store.mu.Unlock()
	opts := h.hooks.BeforeDelete(ctx, cur)
	if err := h.store.Delete(ctx, key(name), &corev1.Service{}, nil, nil, opts); err != nil {
		h.t.Fatal(err)
	}
}

// svc returns a minimal valid service of type typ with one port.
func svc(name string, typ corev1.ServiceType, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type:     typ,
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}
