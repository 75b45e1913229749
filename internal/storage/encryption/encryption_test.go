package encryption

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	key16 = "MTIzNDU2Nzg5MDEyMzQ1Ng=="                     // 16 bytes
	key32 = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=" // 32 bytes
	other = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=" // 32 bytes
)

func config(t *testing.T, providers string) *Config {
	t.Helper()
	c, err := Parse([]byte(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
` + providers))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var secrets = []Prefix{{Prefix: "/registry/secrets/", Resource: schema.GroupResource{Resource: "secrets"}},
	{Prefix: "/registry/configmaps/", Resource: schema.GroupResource{Resource: "configmaps"}}}

func newTransformer(c *Config) *Transformer {
	t := NewTransformer(c)
	t.SetPrefixes(secrets)
	return t
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name, providers, wantPrefix string
	}{
		{"aesgcm", "  - aesgcm: {keys: [{name: k1, secret: " + key16 + "}]}\n", "k8s:enc:aesgcm:v1:k1:"},
		{"aescbc", "  - aescbc: {keys: [{name: k1, secret: " + key32 + "}]}\n", "k8s:enc:aescbc:v1:k1:"},
		{"secretbox", "  - secretbox: {keys: [{name: k1, secret: " + key32 + "}]}\n", "k8s:enc:secretbox:v1:k1:"},
		{"identity first", "  - identity: {}\n  - aesgcm: {keys: [{name: k1, secret: " + key16 + "}]}\n", ""},
	}
	plain := []byte(`{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTransformer(config(t, tc.providers))
			const key = "/registry/secrets/default/db"
			stored, err := tr.ToStorage(key, plain)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantPrefix == "" {
				if !bytes.Equal(stored, plain) {
					t.Fatalf("identity first: stored %q, want the plain value", stored)
				}
			} else if !strings.HasPrefix(string(stored), tc.wantPrefix) || bytes.Contains(stored, []byte("aHVudGVyMg")) {
				t.Fatalf("stored %q, want sealed with prefix %q", stored, tc.wantPrefix)
			}
			got, err := tr.FromStorage(key, stored)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("FromStorage: %q %v, want the plain value", got, err)
			}
			if cm, _ := tr.ToStorage("/registry/configmaps/default/x", plain); !bytes.Equal(cm, plain) {
				t.Errorf("a configmap was sealed: %q", cm)
			}
		})
	}
}

func TestRotationAndFailures(t *testing.T) {
	const key = "/registry/secrets/default/db"
	plain := []byte("value")
	old := newTransformer(config(t, "  - aesgcm: {keys: [{name: k1, secret: "+key16+"}]}\n"))
	sealedOld, err := old.ToStorage(key, plain)
	if err != nil {
		t.Fatal(err)
	}
	// Rotation: the new key first, the old one still listed.
	rotated := newTransformer(config(t, "  - aesgcm: {keys: [{name: k2, secret: "+other+"}, {name: k1, secret: "+key16+"}]}\n"))
	if got, err := rotated.FromStorage(key, sealedOld); err != nil || string(got) != "value" {
		t.Errorf("a value of the old key after rotation: %q %v", got, err)
	}
	if sealedNew, _ := rotated.ToStorage(key, plain); !strings.HasPrefix(string(sealedNew), "k8s:enc:aesgcm:v1:k2:") {
		t.Errorf("new writes sealed as %q, want with k2", sealedNew)
	}
	// The old key dropped: its values no longer open.
	dropped := newTransformer(config(t, "  - aesgcm: {keys: [{name: k2, secret: "+other+"}]}\n"))
	if _, err := dropped.FromStorage(key, sealedOld); err == nil {
		t.Errorf("a value of a dropped key opened")
	}
	// A value moved to another key does not open (AES-GCM binds it).
	if _, err := old.FromStorage("/registry/secrets/default/other", sealedOld); err == nil {
		t.Errorf("a value copied under another key opened")
	}
	// A tampered value does not open.
	tampered := append([]byte(nil), sealedOld...)
	tampered[len(tampered)-1] ^= 1
	if _, err := old.FromStorage(key, tampered); err == nil {
		t.Errorf("a tampered value opened")
	}
	// Plain values written before encryption was configured still read.
	if got, err := old.FromStorage(key, plain); err != nil || string(got) != "value" {
		t.Errorf("a plain value: %q %v", got, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"wrong kind", "apiVersion: v1\nkind: Pod\n", "EncryptionConfiguration"},
		{"short key", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm: {keys: [{name: k, secret: YWJj}]}\n", "3 bytes"},
		{"kms", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - kms: {name: x}\n", "kms"},
		{"two types in one entry", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - {identity: {}, aesgcm: {keys: [{name: k, secret: " + key16 + "}]}}\n", "exactly one"},
		{"unknown field", "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresource: []\n", "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestWildcards(t *testing.T) {
	c, err := Parse([]byte(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers: [{identity: {}}]
- resources: ["*.apps", "*.*"]
  providers: [{aesgcm: {keys: [{name: k, secret: ` + key16 + `}]}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if ps := c.providersFor(schema.GroupResource{Resource: "secrets"}); len(ps) != 1 || ps[0] != (identity{}) {
		t.Errorf("secrets: an exact rule wins over *.*, got %v", ps)
	}
	if ps := c.providersFor(schema.GroupResource{Group: "apps", Resource: "deployments"}); len(ps) != 1 {
		t.Errorf("deployments.apps: got %v, want the *.apps providers", ps)
	}
	if ps := c.providersFor(schema.GroupResource{Resource: "configmaps"}); len(ps) != 1 {
		t.Errorf("configmaps: got %v, want the *.* providers", ps)
	}
}
