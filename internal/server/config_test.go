package server

import (
	"strings"
	"testing"
	"time"
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

func TestValidateNodeMonitorDurations(t *testing.T) {
	tests := []struct {
		name    string
		set     func(*Config)
		wantErr string
	}{
		{name: "defaults", set: func(*Config) {}},
		{name: "short grace period", set: func(c *Config) { c.NodeMonitorGracePeriod = 20 * time.Second }},
		{name: "zero grace period", set: func(c *Config) { c.NodeMonitorGracePeriod = 0 },
			wantErr: "--node-monitor-grace-period"},
		{name: "negative startup grace period", set: func(c *Config) { c.NodeStartupGracePeriod = -time.Second },
			wantErr: "--node-startup-grace-period"},
		{name: "zero monitor period", set: func(c *Config) { c.NodeMonitorPeriod = 0 }, wantErr: "--node-monitor-period"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.set(&cfg)
			err := cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error about %s", err, tc.wantErr)
			}
		})
	}
	if got := DefaultConfig().NodeMonitorGracePeriod; got != 50*time.Second {
		t.Errorf("default --node-monitor-grace-period %v, want upstream's 50s", got)
	}
}

func TestValidateEventTTL(t *testing.T) {
	if got := DefaultConfig().EventTTL; got != time.Hour {
		t.Errorf("default --event-ttl %v, want kube-apiserver's 1h", got)
	}
	for _, tc := range []struct {
		ttl     time.Duration
		wantErr bool
	}{
		{ttl: time.Hour},
		{ttl: 0}, // events are kept forever
		{ttl: -time.Second, wantErr: true},
	} {
		cfg := DefaultConfig()
		cfg.EventTTL = tc.ttl
		err := cfg.Validate()
		if gotErr := err != nil; gotErr != tc.wantErr || (gotErr && !strings.Contains(err.Error(), "--event-ttl")) {
			t.Errorf("--event-ttl %v: got %v, want error %v", tc.ttl, err, tc.wantErr)
		}
	}
}
