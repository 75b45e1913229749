package encryption

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// The file format: kube-apiserver's EncryptionConfiguration.
type fileConfig struct {
	Kind       string           `json:"kind"`
	APIVersion string           `json:"apiVersion"`
	Resources  []resourceConfig `json:"resources"`
}

type resourceConfig struct {
	Resources []string         `json:"resources"`
	Providers []providerConfig `json:"providers"`
}

type providerConfig struct {
	AESGCM    *keysConfig `json:"aesgcm,omitempty"`
	AESCBC    *keysConfig `json:"aescbc,omitempty"`
	Secretbox *keysConfig `json:"secretbox,omitempty"`
	Identity  *struct{}   `json:"identity,omitempty"`
	KMS       any         `json:"kms,omitempty"`
}

type keysConfig struct {
	Keys []keyConfig `json:"keys"`
}

type keyConfig struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

// LoadFile reads an EncryptionConfiguration file.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("encryption provider config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("encryption provider config %s: %w", path, err)
	}
	return c, nil
}

// Config is a parsed EncryptionConfiguration: for each resource pattern
// ("secrets", "configmaps", "*.apps", "*.*"), its providers in order.
type Config struct {
	rules []rule
}

type rule struct {
	group, resource string // "*" matches any
	providers       []provider
}

// Parse parses an EncryptionConfiguration.
func Parse(data []byte) (*Config, error) {
	var fc fileConfig
	if err := yaml.UnmarshalStrict(data, &fc); err != nil {
		return nil, err
	}
	if fc.Kind != "EncryptionConfiguration" || fc.APIVersion != "apiserver.config.k8s.io/v1" {
		return nil, fmt.Errorf("want kind EncryptionConfiguration of apiserver.config.k8s.io/v1, got %s of %s", fc.Kind, fc.APIVersion)
	}
	c := &Config{}
	for i, rc := range fc.Resources {
		if len(rc.Providers) == 0 {
			return nil, fmt.Errorf("resources[%d]: no providers", i)
		}
		var providers []provider
		for j, pc := range rc.Providers {
			p, err := newProvider(pc)
			if err != nil {
				return nil, fmt.Errorf("resources[%d].providers[%d]: %w", i, j, err)
			}
			providers = append(providers, p)
		}
		for _, r := range rc.Resources {
			resource, group, _ := strings.Cut(r, ".")
			if r == "*." {
				resource, group = "*", ""
			}
			c.rules = append(c.rules, rule{group: group, resource: resource, providers: providers})
		}
	}
	return c, nil
}

// providersFor returns the providers of gr: those of the first rule that
// names it exactly, else of the first wildcard rule matching it.
func (c *Config) providersFor(gr schema.GroupResource) []provider {
	for _, exact := range []bool{true, false} {
		for _, r := range c.rules {
			groupOK := r.group == gr.Group || (!exact && r.group == "*")
			resourceOK := r.resource == gr.Resource || (!exact && r.resource == "*")
			if groupOK && resourceOK {
				return r.providers
			}
		}
	}
	return nil
}

func newProvider(pc providerConfig) (provider, error) {
	set := 0
	for _, ok := range []bool{pc.AESGCM != nil, pc.AESCBC != nil, pc.Secretbox != nil, pc.Identity != nil, pc.KMS != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("exactly one provider type per entry")
	}
	switch {
	case pc.Identity != nil:
		return identity{}, nil
	case pc.KMS != nil:
		return nil, errors.New("kms providers are not supported by svcnet")
	}
	name, kc, sizes := "aesgcm", pc.AESGCM, []int{16, 24, 32}
	switch {
	case pc.AESCBC != nil:
		name, kc, sizes = "aescbc", pc.AESCBC, []int{16, 24, 32}
	case pc.Secretbox != nil:
		name, kc, sizes = "secretbox", pc.Secretbox, []int{32}
	}
	if len(kc.Keys) == 0 {
		return nil, fmt.Errorf("%s: no keys", name)
	}
	var keys []key
	for _, k := range kc.Keys {
		if k.Name == "" || strings.Contains(k.Name, ":") {
			return nil, fmt.Errorf("%s: key name %q must be non-empty without ':'", name, k.Name)
		}
		secret, err := base64.StdEncoding.DecodeString(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("%s key %s: secret is not base64: %w", name, k.Name, err)
		}
		ok := false
		for _, n := range sizes {
			ok = ok || len(secret) == n
		}
		if !ok {
			return nil, fmt.Errorf("%s key %s: secret of %d bytes, want one of %v", name, k.Name, len(secret), sizes)
		}
		keys = append(keys, key{name: k.Name, secret: secret})
	}
	return newSealer(name, keys)
}
