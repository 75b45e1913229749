package encryption

import (
	"bytes"
	"errors"
	"strings"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/svcnet/svcnet/internal/storage"
)

// Prefix maps a storage key prefix ("/registry/secrets/") to the group
// resource stored under it.
type Prefix struct {
	Prefix   string
	Resource schema.GroupResource
}

// Transformer encrypts the values of the resources a Config names.
type Transformer struct {
	cfg *Config
	// prefixes says which resource a key holds; nil until SetPrefixes
	// (the store exists before the resources are built).
	prefixes atomic.Pointer[[]Prefix]
	// all lists every provider of the config, for values written under
	// an earlier configuration.
	all []provider
}

var _ storage.Transformer = (*Transformer)(nil)

// NewTransformer returns the Transformer of cfg; it encrypts once
// SetPrefixes has told it where each resource is stored.
func NewTransformer(cfg *Config) *Transformer {
	t := &Transformer{cfg: cfg}
	for _, r := range cfg.rules {
		t.all = append(t.all, r.providers...)
	}
	return t
}

// SetPrefixes tells the Transformer the stored resources.
func (t *Transformer) SetPrefixes(prefixes []Prefix) { t.prefixes.Store(&prefixes) }

// providersOf returns the providers of the resource stored at key.
func (t *Transformer) providersOf(key string) ([]provider, error) {
	pp := t.prefixes.Load()
	if pp == nil {
		return nil, errors.New("encryption not ready: stored resources unknown")
	}
	prefixes := *pp
	best := -1
	for i, p := range prefixes {
		if strings.HasPrefix(key, p.Prefix) && (best < 0 || len(p.Prefix) > len(prefixes[best].Prefix)) {
			best = i
		}
	}
	if best < 0 {
		return nil, nil
	}
	return t.cfg.providersFor(prefixes[best].Resource), nil
}

// ToStorage seals data with the first provider of its resource (plain for
// a resource without any, or with identity first).
func (t *Transformer) ToStorage(key string, data []byte) ([]byte, error) {
	ps, err := t.providersOf(key)
	if err != nil || len(ps) == 0 {
		return data, err
	}
	return ps[0].seal(key, data)
}

// ToStorageAs seals data of key as the values of resource gr are sealed
// (for values outside the API's key space, such as the shared PKI).
func (t *Transformer) ToStorageAs(gr schema.GroupResource, key string, data []byte) ([]byte, error) {
	ps := t.cfg.providersFor(gr)
	if len(ps) == 0 {
		return data, nil
	}
	return ps[0].seal(key, data)
}

// FromStorage opens a value sealed by any provider of the configuration;
// plain values come back as they are.
func (t *Transformer) FromStorage(key string, value []byte) ([]byte, error) {
	if !bytes.HasPrefix(value, []byte(prefix)) {
		return value, nil
	}
	for _, p := range t.all {
		data, ok, err := p.open(key, value)
		if ok {
			return data, err
		}
	}
	return nil, errors.New("encrypted with a provider or key no longer in the encryption configuration")
}
