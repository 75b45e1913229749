package proxy

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// namedBackend is a Backend that only remembers which mode built it.
type namedBackend struct {
	recordingBackend
	mode string
}

func TestModeSelection(t *testing.T) {
	works := func(mode string) BackendFactory {
		return func(BackendConfig) (Backend, error) { return &namedBackend{mode: mode}, nil }
	}
	fails := func(BackendConfig) (Backend, error) { return nil, errors.New("nft: operation not permitted") }
	tests := []struct {
		name     string
		mode     string
		backends map[string]BackendFactory
		want     string // mode of the backend built
		wantErr  string
	}{
		{name: "empty mode prefers nftables", backends: map[string]BackendFactory{"nftables": works("nftables"), "userspace": works("userspace")},
			want: "nftables"},
		{name: "empty mode falls back to userspace", backends: map[string]BackendFactory{"nftables": fails, "userspace": works("userspace")},
			want: "userspace"},
		{name: "explicit mode does not fall back", mode: "nftables",
			backends: map[string]BackendFactory{"nftables": fails, "userspace": works("userspace")},
			wantErr:  "create nftables backend: nft: operation not permitted"},
		{name: "explicit iptables", mode: "iptables", backends: map[string]BackendFactory{"iptables": works("iptables")}, want: "iptables"},
		{name: "unknown mode", mode: "ipvs", backends: map[string]BackendFactory{"nftables": works("nftables")},
			wantErr: `unknown mode "ipvs"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			p, err := New(Config{Client: client, Informers: informers.NewSharedInformerFactory(client, 0), NodeName: "a",
				Mode: tc.mode, Backends: tc.backends})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.backend.(*namedBackend).mode; got != tc.want {
				t.Errorf("got mode %q, want %q", got, tc.want)
			}
		})
	}
}
