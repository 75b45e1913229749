package satoken

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// objects is a Lookup over fixed objects.
type objects struct {
	sas  map[string]*corev1.ServiceAccount
	pods map[string]*corev1.Pod
}

func (o objects) ServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if sa, ok := o.sas[ns+"/"+name]; ok {
		return sa, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccounts"), name)
}

func (o objects) Pod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	if p, ok := o.pods[ns+"/"+name]; ok {
		return p, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
}

func (objects) Secret(_ context.Context, _, name string) (*corev1.Secret, error) {
	return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
}

func (objects) Node(_ context.Context, name string) (*corev1.Node, error) {
	return nil, apierrors.NewNotFound(corev1.Resource("nodes"), name)
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestValidate(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key := newKey(t)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default", UID: "sa-uid"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "pod-uid"}}
	lookup := objects{sas: map[string]*corev1.ServiceAccount{"ns/default": sa}, pods: map[string]*corev1.Pod{"ns/web": pod}}
	issuer := "https://kubernetes.default.svc.cluster.local"
	tokens, err := New(Config{Key: key, Issuer: issuer, Lookup: lookup, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	base := Request{Namespace: "ns", ServiceAccount: Ref{Name: "default", UID: "sa-uid"}, Lifetime: time.Hour}
	issue := func(t *testing.T, tokens *Tokens, r Request) string {
		t.Helper()
		tok, exp, err := tokens.Issue(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := now.Add(r.Lifetime); !exp.Equal(want) {
			t.Fatalf("expiry %v, want %v", exp, want)
		}
		return tok
	}
	deletedLongAgo := pod.DeepCopy()
	deletedLongAgo.DeletionTimestamp = &metav1.Time{Time: now.Add(-2 * time.Minute)}
	terminating := pod.DeepCopy()
	terminating.DeletionTimestamp = &metav1.Time{Time: now.Add(30 * time.Second)}
	bound := base
	bound.Pod = &Ref{Name: "web", UID: "pod-uid"}

	tests := []struct {
		name    string
		token   func(t *testing.T) string
		lookup  Lookup
		later   time.Duration
		wantErr string
	}{
		{name: "valid", token: func(t *testing.T) string { return issue(t, tokens, base) }},
		{name: "valid bound to a live pod", token: func(t *testing.T) string { return issue(t, tokens, bound) }},
		{name: "bound to a terminating pod", token: func(t *testing.T) string { return issue(t, tokens, bound) },
			lookup: objects{sas: lookup.sas, pods: map[string]*corev1.Pod{"ns/web": terminating}}},
		{name: "bound pod deleted long ago", token: func(t *testing.T) string { return issue(t, tokens, bound) },
			lookup: objects{sas: lookup.sas, pods: map[string]*corev1.Pod{"ns/web": deletedLongAgo}}, wantErr: "being deleted"},
		{name: "bound pod gone", token: func(t *testing.T) string { return issue(t, tokens, bound) },
			lookup: objects{sas: lookup.sas}, wantErr: "not found"},
		{name: "service account recreated", token: func(t *testing.T) string {
			r := base
			r.ServiceAccount.UID = "old"
			return issue(t, tokens, r)
		}, wantErr: "recreated"},
		{name: "expired", token: func(t *testing.T) string { return issue(t, tokens, base) }, later: time.Hour + time.Second,
			wantErr: "expired"},
		{name: "foreign audience", token: func(t *testing.T) string {
			r := base
			r.Audiences = []string{"vault"}
			return issue(t, tokens, r)
		}, wantErr: "audiences"},
		{name: "another issuer", token: func(t *testing.T) string {
			other, err := New(Config{Key: key, Issuer: "https://elsewhere", Audiences: []string{issuer}, Lookup: lookup, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			return issue(t, other, base)
		}, wantErr: "issuer"},
		{name: "another key", token: func(t *testing.T) string {
			other, err := New(Config{Key: newKey(t), Issuer: issuer, Lookup: lookup, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			return issue(t, other, base)
		}, wantErr: "signature"},
		{name: "tampered claims", token: func(t *testing.T) string {
			parts := strings.Split(issue(t, tokens, base), ".")
			evil, _, _ := (&Tokens{cfg: tokens.cfg, keyID: tokens.keyID}).Issue(Request{Namespace: "kube-system",
				ServiceAccount: Ref{Name: "default", UID: "sa-uid"}, Lifetime: time.Hour})
			return strings.Split(evil, ".")[0] + "." + strings.Split(evil, ".")[1] + "." + parts[2]
		}, wantErr: "signature"},
		{name: "not a JWT", token: func(*testing.T) string { return "0123456789abcdef" }, wantErr: "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.token(t)
			v := *tokens
			if tc.lookup != nil {
				v.cfg.Lookup = tc.lookup
			}
			v.cfg.Now = func() time.Time { return now.Add(tc.later) }
			claims, err := v.Validate(context.Background(), raw)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v, want a valid token", err)
				}
				if got, want := claims.Subject, "system:serviceaccount:ns:default"; got != want {
					t.Errorf("got subject %q, want %q", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestSplitUserName(t *testing.T) {
	tests := []struct {
		user, ns, name string
		ok             bool
	}{
		{"system:serviceaccount:ns:default", "ns", "default", true},
		{"system:serviceaccount:ns:", "", "", false},
		{"system:serviceaccount:ns:a:b", "", "", false},
		{"admin", "", "", false},
	}
	for _, tc := range tests {
		ns, name, ok := SplitUserName(tc.user)
		if ok != tc.ok || (ok && (ns != tc.ns || name != tc.name)) {
			t.Errorf("SplitUserName(%q) = %q, %q, %v; want %q, %q, %v", tc.user, ns, name, ok, tc.ns, tc.name, tc.ok)
		}
	}
}
