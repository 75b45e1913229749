package service

import (
	"context"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/storage"
)

// memStore is an in-memory storage.Interface holding Services and
// reservation keys with the transactional semantics of the real store, for
// what these tests use (Create, Delete, reservations).
type memStore struct {
	storage.Interface
	mu   sync.Mutex
	objs map[string]*corev1.Service
	res  map[string]string
	rev  int64
}

func newMemStore() *memStore {
	return &memStore{objs: map[string]*corev1.Service{}, res: map[string]string{}}
}

func (m *memStore) Create(_ context.Context, key string, obj, out runtime.Object, opts storage.WriteOptions) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok {
		return storage.ErrExists
	}
	for _, k := range opts.Reserve {
		if _, ok := m.res[k]; ok {
			return &storage.ReservedError{Key: k}
		}
	}
	for _, k := range opts.Reserve {
		m.res[k] = key
	}
	m.rev++
	svc := obj.(*corev1.Service).DeepCopy()
	svc.ResourceVersion = strconv.FormatInt(m.rev, 10)
	m.objs[key] = svc
	*out.(*corev1.Service) = *svc.DeepCopy()
	return nil
}

// update writes obj at key applying opts, like a GuaranteedUpdate whose
// tryUpdate returned them.
func (m *memStore) update(key string, obj *corev1.Service, opts storage.WriteOptions) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; !ok {
		return storage.ErrNotFound
	}
	for _, k := range opts.Reserve {
		if _, ok := m.res[k]; ok {
			return &storage.ReservedError{Key: k}
		}
	}
	for _, k := range opts.Release {
		delete(m.res, k)
	}
	for _, k := range opts.Reserve {
		m.res[k] = key
	}
	m.rev++
	obj.ResourceVersion = strconv.FormatInt(m.rev, 10)
	m.objs[key] = obj.DeepCopy()
	return nil
}

func (m *memStore) Delete(_ context.Context, key string, out runtime.Object, _ *storage.Preconditions,
	_ func(runtime.Object) error, opts storage.WriteOptions) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	svc, ok := m.objs[key]
	if !ok {
		return storage.ErrNotFound
	}
	for _, k := range opts.Release {
		delete(m.res, k)
	}
	delete(m.objs, key)
	m.rev++
	*out.(*corev1.Service) = *svc
	return nil
}

func (m *memStore) Reservations(_ context.Context, prefix string) (map[string]string, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for k, v := range m.res {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out, m.rev, nil
}

func (m *memStore) Reserve(_ context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.res[key]; ok {
		return &storage.ReservedError{Key: key}
	}
	m.res[key] = owner
	return nil
}

func (m *memStore) reservations() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for k, v := range m.res {
		out[k] = v
	}
	return out
}
