package integration

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/server"
	"github.com/svcnet/svcnet/test/integration/framework"
)

const encryptionConfig = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
%s
  - identity: {}
`

// TestEncryptionAtRest runs the server with --encryption-provider-config
// (kube-apiserver's format) on an etcd the test reads directly: a Secret
// and the shared PKI (CA and signing keys) are sealed in etcd while the
// API serves them plainly and a ConfigMap stays plain; after a restart
// with a new key first and the old one still listed, old values read and
// rewritten values move to the new key.
func TestEncryptionAtRest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	etcdClient, endpoints := startTestEtcd(ctx, t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "encryption.yaml")
	writeConfig := func(providers string) {
		if err := os.WriteFile(cfgFile, []byte(strings.Replace(encryptionConfig, "%s", providers, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const k1 = "  - aesgcm: {keys: [{name: k1, secret: MTIzNDU2Nzg5MDEyMzQ1Ng==}]}"
	const k2k1 = "  - aesgcm: {keys: [{name: k2, secret: YWJjZGVmZ2hpamtsbW5vcA==}, {name: k1, secret: MTIzNDU2Nzg5MDEyMzQ1Ng==}]}"
	writeConfig(k1)
	start := func() *framework.TestServer {
		return framework.Start(t, framework.Options{DataDir: filepath.Join(dir, "data"), Modify: func(c *server.Config) {
			c.EtcdServers = endpoints
			c.EncryptionProviderConfig = cfgFile
		}})
	}
	raw := func(key string) []byte {
		t.Helper()
		resp, err := etcdClient.Get(ctx, key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("etcd get %s: %v (%d keys)", key, err, len(resp.Kvs))
		}
		return resp.Kvs[0].Value
	}
	ts := start()
	secrets := ts.Client.CoreV1().Secrets("default")
	if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		StringData: map[string]string{"password": "hunter2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain"},
		Data: map[string]string{"k": "visible"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secretKey := "/registry/secrets/default/db"
	if v := raw(secretKey); !bytes.HasPrefix(v, []byte("k8s:enc:aesgcm:v1:k1:")) || bytes.Contains(v, []byte("aHVudGVyMg")) {
		t.Errorf("Secret in etcd: %q, want sealed with k1", v)
	}
	if v := raw(server.SharedPKIKey); !bytes.HasPrefix(v, []byte("k8s:enc:aesgcm:v1:k1:")) {
		t.Errorf("shared PKI in etcd starts %q, want sealed with k1", v[:min(len(v), 40)])
	}
	if v := raw("/registry/configmaps/default/plain"); !bytes.Contains(v, []byte("visible")) {
		t.Errorf("ConfigMap in etcd: %q, want plain", v)
	}
	if s, err := secrets.Get(ctx, "db", metav1.GetOptions{}); err != nil || string(s.Data["password"]) != "hunter2" {
		t.Fatalf("Secret through the API: %v %v", s, err)
	}
	ts.Stop()

	writeConfig(k2k1)
	ts = start()
	secrets = ts.Client.CoreV1().Secrets("default")
	s, err := secrets.Get(ctx, "db", metav1.GetOptions{})
	if err != nil || string(s.Data["password"]) != "hunter2" {
		t.Fatalf("Secret of the old key after rotation: %v %v", s, err)
	}
	s.Labels = map[string]string{"rotated": "yes"}
	if _, err := secrets.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if v := raw(secretKey); !bytes.HasPrefix(v, []byte("k8s:enc:aesgcm:v1:k2:")) {
		t.Errorf("rewritten Secret in etcd starts %q, want sealed with k2", v[:min(len(v), 40)])
	}
}
