package authn

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/pki"
)

// whoami echoes the authenticated user.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u, ok := FromContext(r.Context())
	if !ok {
		http.Error(w, "no user in context", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s|%s", u.Name, strings.Join(u.Groups, ","))
})

func TestBearerAndAnonymous(t *testing.T) {
	h := New(Config{
		Tokens: map[string]User{"s3cret": {Name: "node:agent", Groups: []string{"system:nodes"}}},
		TokenAuthenticator: func(_ *http.Request, tok string) (User, bool) {
			if tok == "dynamic" {
				return User{Name: "dyn"}, true
			}
			return User{}, false
		},
		PublicPaths: []string{"/cacerts"},
	})(whoami)
	tests := []struct {
		name     string
		path     string
		auth     string
		wantCode int
		wantBody string
	}{
		{name: "static token", path: "/api", auth: "Bearer s3cret", wantCode: 200, wantBody: "node:agent|system:nodes,system:authenticated"},
		{name: "lower-case scheme", path: "/api", auth: "bearer s3cret", wantCode: 200, wantBody: "node:agent|system:nodes,system:authenticated"},
		{name: "token authenticator", path: "/api", auth: "Bearer dynamic", wantCode: 200, wantBody: "dyn|system:authenticated"},
		{name: "wrong token", path: "/api", auth: "Bearer nope", wantCode: 401},
		{name: "prefix of token", path: "/api", auth: "Bearer s3cre", wantCode: 401},
		{name: "basic auth", path: "/api", auth: "Basic YTpi", wantCode: 401},
		{name: "no credentials", path: "/api/v1/pods", wantCode: 401},
		{name: "healthz anonymous", path: "/healthz", wantCode: 200, wantBody: "system:anonymous|system:unauthenticated"},
		{name: "livez anonymous", path: "/livez", wantCode: 200, wantBody: "system:anonymous|system:unauthenticated"},
		{name: "readyz anonymous", path: "/readyz", wantCode: 200, wantBody: "system:anonymous|system:unauthenticated"},
		{name: "version anonymous", path: "/version", wantCode: 200, wantBody: "system:anonymous|system:unauthenticated"},
		{name: "extra public path", path: "/cacerts", wantCode: 200, wantBody: "system:anonymous|system:unauthenticated"},
		{name: "healthz subpath not public", path: "/healthz/etcd", wantCode: 401},
		{name: "bad token on public path", path: "/healthz", auth: "Bearer nope", wantCode: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantCode {
				t.Fatalf("code = %d, want %d (body %q)", rec.Code, tc.wantCode, rec.Body.String())
			}
			if tc.wantCode == 401 {
				checkUnauthorized(t, rec)
				return
			}
			if got := rec.Body.String(); got != tc.wantBody {
				t.Errorf("body = %q, want %q", got, tc.wantBody)
			}
		})
	}
}

func checkUnauthorized(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if got, want := rec.Header().Get("Content-Type"), "application/json"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	var got metav1.Status
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode status: %v", err)
	}
	want := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   "Failure", Message: "Unauthorized", Reason: "Unauthorized", Code: 401,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

func TestClientCertificate(t *testing.T) {
	p, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	type certCase struct {
		name      string
		clientTLS func() *tls.Config // nil means the admin certificate
		ownVerify bool               // the TLS layer only requests the cert; authn verifies it
		wantCode  int
		wantBody  string
	}
	tests := []certCase{
		{name: "admin via verified chain", wantCode: 200, wantBody: "admin|system:masters,system:authenticated"},
		{name: "admin verified by authn", ownVerify: true, wantCode: 200, wantBody: "admin|system:masters,system:authenticated"},
	}
	other, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tests = append(tests, certCase{name: "foreign cert rejected by authn", ownVerify: true, wantCode: 401, clientTLS: func() *tls.Config {
		c, k := other.AdminCert()
		kp, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return &tls.Config{Certificates: []tls.Certificate{kp}}
	}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(New(Config{ClientCAs: p.CAPool()})(whoami))
			srv.TLS = p.ServerTLS()
			if tc.ownVerify {
				srv.TLS.ClientAuth = tls.RequestClientCert
			}
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.StartTLS()
			defer srv.Close()

			clientTLS := &tls.Config{}
			if tc.clientTLS != nil {
				clientTLS = tc.clientTLS()
			} else {
				c, k := p.AdminCert()
				kp, err := tls.X509KeyPair(c, k)
				if err != nil {
					t.Fatal(err)
				}
				clientTLS.Certificates = []tls.Certificate{kp}
			}
			clientTLS.RootCAs = p.CAPool()
			clientTLS.ServerName = "localhost"
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}}
			resp, err := client.Get(srv.URL + "/api")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("code = %d, want %d (body %q)", resp.StatusCode, tc.wantCode, body)
			}
			if tc.wantBody != "" && string(body) != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
		})
	}
}
