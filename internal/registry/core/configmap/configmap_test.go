package configmap

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func newConfigMap(mutate func(*corev1.ConfigMap)) *corev1.ConfigMap {
	c := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"},
		Data:       map[string]string{"app.conf": "x=1", "KEY_2": "v"},
	}
	if mutate != nil {
		mutate(c)
	}
	return c
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.ConfigMap)
		want   []string
	}{
		{name: "valid"},
		{name: "from-file keys", mutate: func(c *corev1.ConfigMap) {
			c.Data = map[string]string{"nginx.conf": "a", ".hidden": "b", "a-b_c.d": "c"}
		}},
		{
			name:   "bad name",
			mutate: func(c *corev1.ConfigMap) { c.Name = "Bad_Name" },
			want:   []string{`metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name:   "bad key",
			mutate: func(c *corev1.ConfigMap) { c.Data["a/b"] = "x" },
			want:   []string{`data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
		},
		{
			name:   "dot key",
			mutate: func(c *corev1.ConfigMap) { c.BinaryData = map[string][]byte{"..": nil} },
			want:   []string{`binaryData[..]: Invalid value: "..": must not be '..'`},
		},
		{
			name:   "duplicate key",
			mutate: func(c *corev1.ConfigMap) { c.BinaryData = map[string][]byte{"KEY_2": []byte("b")} },
			want:   []string{`data[KEY_2]: Invalid value: "KEY_2": duplicate of key present in binaryData`},
		},
		{
			name: "too large",
			mutate: func(c *corev1.ConfigMap) {
				c.Data["big"] = strings.Repeat("x", MaxSize)
			},
			want: []string{`[]: Too long: may not be more than 1048576 bytes`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(Strategy{}.Validate(context.Background(), newConfigMap(tc.mutate)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name   string
		old    func(*corev1.ConfigMap)
		mutate func(*corev1.ConfigMap)
		want   []string
	}{
		{name: "mutable data change", mutate: func(c *corev1.ConfigMap) { c.Data["KEY_2"] = "w" }},
		{
			name:   "immutable data change",
			old:    func(c *corev1.ConfigMap) { c.Immutable = &yes },
			mutate: func(c *corev1.ConfigMap) { c.Immutable = &yes; c.Data["KEY_2"] = "w" },
			want:   []string{"data: Forbidden: field is immutable when `immutable` is set"},
		},
		{
			name:   "immutable unset",
			old:    func(c *corev1.ConfigMap) { c.Immutable = &yes },
			mutate: func(c *corev1.ConfigMap) { c.Immutable = &no; c.BinaryData = map[string][]byte{"b": nil} },
			want: []string{
				"immutable: Forbidden: field is immutable when `immutable` is set",
				"binaryData: Forbidden: field is immutable when `immutable` is set",
			},
		},
		{
			name:   "became immutable",
			mutate: func(c *corev1.ConfigMap) { c.Immutable = &yes },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := newConfigMap(tc.old)
			old.ResourceVersion = "3"
			c := old.DeepCopy()
			if tc.mutate != nil {
				tc.mutate(c)
			}
			s := Strategy{}
			s.PrepareForUpdate(context.Background(), c, old)
			got := errStrings(s.ValidateUpdate(context.Background(), c, old))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResource(t *testing.T) {
	r := Resource()
	if r.Resource != "configmaps" || r.Kind != "ConfigMap" || !r.Namespaced {
		t.Errorf("got %s/%s namespaced=%v, want configmaps/ConfigMap namespaced", r.Resource, r.Kind, r.Namespaced)
	}
	if diff := cmp.Diff([]string{"cm"}, r.ShortNames); diff != "" {
		t.Errorf("short names (-want +got):\n%s", diff)
	}
	got := r.Fields(newConfigMap(nil))
	if got.Get("metadata.name") != "cfg" || got.Get("metadata.namespace") != "default" {
		t.Errorf("got fields %v, want metadata.name=cfg metadata.namespace=default", got)
	}
}
