package join

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/svcnet/svcnet/internal/pki"
)

func TestRESTConfig(t *testing.T) {
	p, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.Load(pki.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cacerts" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(p.CAPEM())
	}))
	defer srv.Close()
	tests := []struct {
		name    string
		token   string
		wantErr bool
	}{
		{"matching CA", p.Token(), false},
		{"other CA", other.Token(), true},
		{"no hash", p.TokenSecret(), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := RESTConfig(context.Background(), srv.URL, tc.token)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got config, want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.BearerToken != p.TokenSecret() || string(cfg.CAData) != string(p.CAPEM()) {
				t.Errorf("got token %q and CA of %d bytes, want the server's", cfg.BearerToken, len(cfg.CAData))
			}
		})
	}
	if _, err := RESTConfig(context.Background(), srv.URL, p.TokenSecret()); !errors.Is(err, ErrNoCAHash) {
		t.Errorf("bare secret: got %v, want ErrNoCAHash", err)
	}
}
