package server

import (
	"strings"
	"testing"
)

func TestValidateProxyMode(t *testing.T) {
	tests := []struct {
		mode    string
		wantErr string
	}{
		{mode: ""},
		{mode: "nftables"},
		{mode: "iptables"},
		{mode: "userspace"},
		{mode: "ipvs", wantErr: `--proxy-mode "ipvs": svcnet has no IPVS mode`},
		{mode: "kernelspace", wantErr: `--proxy-mode "kernelspace": must be nftables, iptables or userspace`},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			err := ValidateProxyMode(tc.mode)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error starting %q", err, tc.wantErr)
			}
		})
	}
}
