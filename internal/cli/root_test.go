package cli

import "testing"

func TestServerEventTTLFlag(t *testing.T) {
	f := newServerCommand().Flags().Lookup("event-ttl")
	if f == nil {
		t.Fatalf("svcnet server has no --event-ttl flag")
	}
	if f.DefValue != "1h0m0s" {
		t.Errorf("got --event-ttl default %q, want kube-apiserver's 1h0m0s", f.DefValue)
	}
	if err := f.Value.Set("90s"); err != nil || f.Value.String() != "1m30s" {
		t.Errorf("--event-ttl=90s: got %q, %v, want 1m30s", f.Value.String(), err)
	}
}
