package bootstraptoken

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
)

const (
	id     = "abcdef"
	secret = "0123456789abcdef"
	token  = id + "." + secret
)

var now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func tokenSecret(modify func(*corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id, Namespace: "kube-system"},
		Type:       "bootstrap.kubernetes.io/token",
		Data: map[string][]byte{
			"token-id":                       []byte(id),
			"token-secret":                   []byte(secret),
			"usage-bootstrap-authentication": []byte("true"),
			"usage-bootstrap-signing":        []byte("true"),
		},
	}
	if modify != nil {
		modify(s)
	}
	return s
}

func TestAuthenticateToken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret *corev1.Secret
		token  string
		want   *authn.User
	}{
		{
			name: "valid", secret: tokenSecret(nil), token: token,
			want: &authn.User{Name: "system:bootstrap:abcdef", Groups: []string{"system:bootstrappers"}},
		},
		{
			name: "extra groups",
			secret: tokenSecret(func(s *corev1.Secret) {
				s.Data["auth-extra-groups"] = []byte("system:bootstrappers:svcnet:default-node-token,system:bootstrappers:b")
			}),
			token: token,
			want: &authn.User{Name: "system:bootstrap:abcdef",
				Groups: []string{"system:bootstrappers", "system:bootstrappers:b", "system:bootstrappers:svcnet:default-node-token"}},
		},
		{
			name:   "extra group outside system:bootstrappers",
			secret: tokenSecret(func(s *corev1.Secret) { s.Data["auth-extra-groups"] = []byte("system:masters") }),
			token:  token,
		},
		{
			name:   "not expired yet",
			secret: tokenSecret(func(s *corev1.Secret) { s.Data["expiration"] = []byte(now.Add(time.Minute).Format(time.RFC3339)) }),
			token:  token,
			want:   &authn.User{Name: "system:bootstrap:abcdef", Groups: []string{"system:bootstrappers"}},
		},
		{
			name:   "expired",
			secret: tokenSecret(func(s *corev1.Secret) { s.Data["expiration"] = []byte(now.Add(-time.Second).Format(time.RFC3339)) }),
			token:  token,
		},
		{
			name:   "unparseable expiration",
			secret: tokenSecret(func(s *corev1.Secret) { s.Data["expiration"] = []byte("tomorrow") }),
			token:  token,
		},
		{name: "wrong secret", secret: tokenSecret(nil), token: id + ".0123456789abcdee"},
		{name: "wrong type", secret: tokenSecret(func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque }), token: token},
		{name: "wrong token-id", secret: tokenSecret(func(s *corev1.Secret) { s.Data["token-id"] = []byte("zzzzzz") }), token: token},
		{
			name:   "not for authentication",
			secret: tokenSecret(func(s *corev1.Secret) { s.Data["usage-bootstrap-authentication"] = []byte("false") }),
			token:  token,
		},
		{
			name:   "being deleted",
			secret: tokenSecret(func(s *corev1.Secret) { s.DeletionTimestamp = &metav1.Time{Time: now} }),
			token:  token,
		},
		{name: "in another namespace", secret: tokenSecret(func(s *corev1.Secret) { s.Namespace = "default" }), token: token},
		{name: "no such secret", secret: tokenSecret(nil), token: "zzzzzz." + secret},
		{name: "not a bootstrap token", secret: tokenSecret(nil), token: "ABCDEF." + secret},
		{name: "a JWT", secret: tokenSecret(nil), token: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
			if err := idx.Add(tc.secret); err != nil {
				t.Fatal(err)
			}
			a, err := New(Config{Secrets: corelisters.NewSecretLister(idx), Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			u, ok := a.AuthenticateToken(nil, tc.token)
			var got *authn.User
			if ok {
				got = &u
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
		})
	}
}
