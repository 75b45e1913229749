package secret

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

// decoded returns a secret as the API server sees it after decoding and
// defaulting.
func decoded(mutate func(*corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "default"},
		Data:       map[string][]byte{"password": []byte("hunter2")},
	}
	if mutate != nil {
		mutate(s)
	}
	Strategy{}.Default(s)
	return s
}

func TestDefault(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       corev1.Secret
		wantType corev1.SecretType
		wantData map[string][]byte
	}{
		{name: "empty", wantType: corev1.SecretTypeOpaque},
		{
			name:     "stringData merged over data",
			in:       corev1.Secret{Data: map[string][]byte{"a": []byte("1"), "b": []byte("2")}, StringData: map[string]string{"b": "two", "c": "3"}},
			wantType: corev1.SecretTypeOpaque,
			wantData: map[string][]byte{"a": []byte("1"), "b": []byte("two"), "c": []byte("3")},
		},
		{
			name:     "type kept",
			in:       corev1.Secret{Type: corev1.SecretTypeTLS, StringData: map[string]string{"tls.crt": "c"}},
			wantType: corev1.SecretTypeTLS,
			wantData: map[string][]byte{"tls.crt": []byte("c")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.in.DeepCopy()
			Default(s)
			if s.Type != tc.wantType {
				t.Errorf("got type %q, want %q", s.Type, tc.wantType)
			}
			if diff := cmp.Diff(tc.wantData, s.Data); diff != "" {
				t.Errorf("data mismatch (-want +got):\n%s", diff)
			}
			if s.StringData != nil {
				t.Errorf("got stringData %v, want nil", s.StringData)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Secret)
		want   []string
	}{
		{name: "valid opaque"},
		{
			name: "kubectl create secret tls",
			mutate: func(s *corev1.Secret) {
				s.Type = corev1.SecretTypeTLS
				s.Data = map[string][]byte{"tls.crt": []byte("cert"), "tls.key": []byte("key")}
			},
		},
		{
			name:   "tls without keys",
			mutate: func(s *corev1.Secret) { s.Type = corev1.SecretTypeTLS },
			want:   []string{"data[tls.crt]: Required value", "data[tls.key]: Required value"},
		},
		{
			name:   "bad key",
			mutate: func(s *corev1.Secret) { s.Data["a b"] = nil },
			want:   []string{`data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
		},
		{
			name:   "too large",
			mutate: func(s *corev1.Secret) { s.Data["big"] = []byte(strings.Repeat("x", MaxSize)) },
			want:   []string{"data: Too long: may not be more than 1048576 bytes"},
		},
		{
			name:   "service account token without annotation",
			mutate: func(s *corev1.Secret) { s.Type = corev1.SecretTypeServiceAccountToken },
			want:   []string{"metadata.annotations[kubernetes.io/service-account.name]: Required value"},
		},
		{
			name: "dockerconfigjson not json",
			mutate: func(s *corev1.Secret) {
				s.Type = corev1.SecretTypeDockerConfigJson
				s.Data = map[string][]byte{".dockerconfigjson": []byte("{")}
			},
			want: []string{`data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input`},
		},
		{
			name:   "dockercfg missing",
			mutate: func(s *corev1.Secret) { s.Type = corev1.SecretTypeDockercfg },
			want:   []string{"data[.dockercfg]: Required value"},
		},
		{
			name:   "basic auth missing both",
			mutate: func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth; s.Data = nil },
			want:   []string{"data[username]: Required value", "data[password]: Required value"},
		},
		{
			name:   "basic auth password only",
			mutate: func(s *corev1.Secret) { s.Type = corev1.SecretTypeBasicAuth },
			want:   nil,
		},
		{
			name:   "ssh auth missing",
			mutate: func(s *corev1.Secret) { s.Type = corev1.SecretTypeSSHAuth },
			want:   []string{"data[ssh-privatekey]: Required value"},
		},
		{
			name:   "custom type",
			mutate: func(s *corev1.Secret) { s.Type = "example.com/thing" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(Strategy{}.Validate(context.Background(), decoded(tc.mutate)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name   string
		old    func(*corev1.Secret)
		mutate func(*corev1.Secret)
		want   []string
	}{
		{name: "data change", mutate: func(s *corev1.Secret) { s.Data["password"] = []byte("x") }},
		{
			name:   "type change",
			mutate: func(s *corev1.Secret) { s.Type = "example.com/other" },
			want:   []string{`type: Invalid value: "example.com/other": field is immutable`},
		},
		{
			name:   "immutable",
			old:    func(s *corev1.Secret) { s.Immutable = &yes },
			mutate: func(s *corev1.Secret) { s.Immutable = nil; s.Data["password"] = []byte("x") },
			want: []string{
				"immutable: Forbidden: field is immutable when `immutable` is set",
				"data: Forbidden: field is immutable when `immutable` is set",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := decoded(tc.old)
			old.ResourceVersion = "2"
			s := old.DeepCopy()
			tc.mutate(s)
			got := errStrings(Strategy{}.ValidateUpdate(context.Background(), s, old))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResource(t *testing.T) {
	r := Resource()
	if r.Resource != "secrets" || len(r.ShortNames) != 0 || !r.Namespaced {
		t.Errorf("got %s shortNames %v, want secrets without short names", r.Resource, r.ShortNames)
	}
	s := decoded(func(s *corev1.Secret) { s.Type = corev1.SecretTypeTLS })
	if got := r.Fields(s).Get("type"); got != "kubernetes.io/tls" {
		t.Errorf("got type field %q, want kubernetes.io/tls", got)
	}
}
