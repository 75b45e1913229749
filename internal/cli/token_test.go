package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/svcnet/svcnet/internal/pki"
)

var tokenNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestCreateToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name     string
		spec     tokenSpec
		wantData map[string]string
		wantErr  string
	}{
		{
			name: "kubeadm's defaults",
			spec: tokenSpec{token: "abcdef.0123456789abcdef", ttl: 24 * time.Hour, groups: []string{DefaultTokenGroup},
				usages: []string{"signing", "authentication"}},
			wantData: map[string]string{"token-id": "abcdef", "token-secret": "0123456789abcdef",
				"expiration": "2030-01-02T00:00:00Z", "usage-bootstrap-signing": "true", "usage-bootstrap-authentication": "true",
				"auth-extra-groups": DefaultTokenGroup},
		},
		{
			name: "forever, described, no groups",
			spec: tokenSpec{token: "abcdef.0123456789abcdef", description: "for n1", usages: []string{"authentication"}},
			wantData: map[string]string{"token-id": "abcdef", "token-secret": "0123456789abcdef", "description": "for n1",
				"usage-bootstrap-authentication": "true"},
		},
		{name: "malformed token", spec: tokenSpec{token: "abc.def", usages: []string{"authentication"}}, wantErr: "does not match"},
		{
			name:    "group outside system:bootstrappers",
			spec:    tokenSpec{token: "abcdef.0123456789abcdef", usages: []string{"authentication"}, groups: []string{"system:masters"}},
			wantErr: `bootstrap group "system:masters" is invalid`,
		},
		{
			name:    "groups without authentication",
			spec:    tokenSpec{token: "abcdef.0123456789abcdef", usages: []string{"signing"}, groups: []string{DefaultTokenGroup}},
			wantErr: "--groups cannot be given",
		},
		{name: "unknown usage", spec: tokenSpec{token: "abcdef.0123456789abcdef", usages: []string{"flying"}}, wantErr: "invalid bootstrap token usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			join, err := createToken(context.Background(), client, hash, tc.spec, tokenNow)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := "K10" + hash + "::" + tc.spec.token; join != want {
				t.Errorf("join token %q, want %q", join, want)
			}
			s, err := client.CoreV1().Secrets("kube-system").Get(context.Background(), "bootstrap-token-abcdef", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range s.Data {
				got[k] = string(v)
			}
			if diff := cmp.Diff(tc.wantData, got); diff != "" || s.Type != "bootstrap.kubernetes.io/token" {
				t.Errorf("type %q, data (-want +got):\n%s", s.Type, diff)
			}
		})
	}
}

func TestCreateRandomToken(t *testing.T) {
	client := fake.NewClientset()
	join, err := createToken(context.Background(), client, strings.Repeat("ab", 32), tokenSpec{usages: []string{"authentication"}}, tokenNow)
	if err != nil {
		t.Fatal(err)
	}
	jt, err := pki.ParseJoinToken(join)
	if err != nil || jt.BootstrapTokenID == "" {
		t.Fatalf("join token %q: %+v, %v: want a bootstrap token", join, jt, err)
	}
	if _, err := createToken(context.Background(), client, "", tokenSpec{token: jt.Secret, usages: []string{"authentication"}}, tokenNow); err == nil ||
		!strings.Contains(err.Error(), "already exists") {
		t.Errorf("creating it again: got %v, want already exists", err)
	}
}

func TestListAndDeleteTokens(t *testing.T) {
	ctx := context.Background()
	hash := strings.Repeat("ab", 32)
	client := fake.NewClientset()
	for _, spec := range []tokenSpec{
		{token: "abcdef.0123456789abcdef", ttl: 90 * time.Minute, description: "n1", groups: []string{DefaultTokenGroup},
			usages: []string{"signing", "authentication"}},
		{token: "zyxwvu.0123456789abcdef", usages: []string{"authentication"}},
	} {
		if _, err := createToken(ctx, client, hash, spec, tokenNow); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if err := listTokens(ctx, client, hash, &out, &errOut, tokenNow); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := [][]string{
		{"TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA", "GROUPS"},
		{"K10" + hash + "::abcdef.0123456789abcdef", "1h", "2030-01-01T01:30:00Z", "authentication,signing", "n1", DefaultTokenGroup},
		{"K10" + hash + "::zyxwvu.0123456789abcdef", "<forever>", "<never>", "authentication", "<none>", "<none>"},
	}
	var got [][]string
	for _, l := range lines {
		got = append(got, strings.Fields(l))
	}
	if diff := cmp.Diff(want, got); diff != "" || errOut.Len() > 0 {
		t.Errorf("list (-want +got):\n%s\nstderr: %s", diff, errOut.String())
	}

	out.Reset()
	if err := deleteTokens(ctx, client, []string{"abcdef", "K10" + hash + "::zyxwvu.0123456789abcdef"}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "bootstrap token \"abcdef\" deleted\nbootstrap token \"zyxwvu\" deleted\n"; out.String() != want {
		t.Errorf("delete printed %q, want %q", out.String(), want)
	}
	if list, _ := client.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); len(list.Items) != 0 {
		t.Errorf("%d secrets left, want none", len(list.Items))
	}
	if err := deleteTokens(ctx, client, []string{"not-a-token"}, &out); err == nil {
		t.Errorf("deleting %q: got no error", "not-a-token")
	}
}

func TestTokenClientHashesTheKubeconfigCA(t *testing.T) {
	dir := t.TempDir()
	p, err := pki.Load(pki.Config{Dir: filepath.Join(dir, "pki")})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "kubeconfig.yaml")
	if err := p.WriteKubeconfig(path, "https://127.0.0.1:6443"); err != nil {
		t.Fatal(err)
	}
	_, hash, err := tokenClient(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.VerifyCA(p.CAPEM(), hash); err != nil {
		t.Errorf("hash of the kubeconfig's CA: %v", err)
	}
}
