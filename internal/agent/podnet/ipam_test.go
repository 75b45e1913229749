package podnet

import (
	"errors"
	"net/netip"
	"testing"
)

func TestIPAM(t *testing.T) {
	dir := t.TempDir()
	a, err := NewIPAM(netip.MustParsePrefix("10.244.1.0/29"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.Gateway(), netip.MustParseAddr("10.244.1.1"); got != want {
		t.Errorf("Gateway() got %s, want %s", got, want)
	}
	steps := []struct {
		name    string
		owner   string
		release bool
		want    string
		wantErr error
	}{
		{name: "first", owner: "a", want: "10.244.1.2"},
		{name: "second", owner: "b", want: "10.244.1.3"},
		{name: "same owner again", owner: "a", want: "10.244.1.2"},
		{name: "release a", owner: "a", release: true},
		{name: "freed address is not reused first", owner: "c", want: "10.244.1.4"},
		{name: "fourth", owner: "d", want: "10.244.1.5"},
		{name: "fifth", owner: "e", want: "10.244.1.6"},
		{name: "wraps around to the freed one", owner: "f", want: "10.244.1.2"},
		{name: "full", owner: "g", wantErr: ErrRangeFull},
		{name: "release b", owner: "b", release: true},
		{name: "reuse freed", owner: "g", want: "10.244.1.3"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.release {
				if err := a.Release(s.owner); err != nil {
					t.Fatal(err)
				}
				return
			}
			got, err := a.Allocate(s.owner)
			if !errors.Is(err, s.wantErr) {
				t.Fatalf("Allocate(%q) error got %v, want %v", s.owner, err, s.wantErr)
			}
			if s.wantErr == nil && got.String() != s.want {
				t.Errorf("Allocate(%q) got %s, want %s", s.owner, got, s.want)
			}
		})
	}

	// A new allocator over the same directory sees the same state and
	// goes on after the last allocation.
	b, err := NewIPAM(netip.MustParsePrefix("10.244.1.0/29"), dir)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.Lookup("g")
	if err != nil || !ok || got.String() != "10.244.1.3" {
		t.Errorf("Lookup after restart got (%s, %v, %v), want (10.244.1.3, true, nil)", got, ok, err)
	}
	if err := b.Release("c"); err != nil {
		t.Fatal(err)
	}
	if err := b.Release("d"); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Allocate("h"); err != nil || got.String() != "10.244.1.4" {
		t.Errorf("Allocate after restart got (%s, %v), want 10.244.1.4", got, err)
	}
}
