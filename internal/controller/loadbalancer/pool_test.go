package loadbalancer

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePool(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // "first-last"
		wantErr bool
	}{
		{name: "ipv4 cidr", in: "192.168.100.240/28", want: "192.168.100.240-192.168.100.255"},
		{name: "ipv4 cidr not masked", in: "192.168.100.243/28", want: "192.168.100.240-192.168.100.255"},
		{name: "ipv4 range", in: "192.168.100.240-192.168.100.250", want: "192.168.100.240-192.168.100.250"},
		{name: "range with spaces", in: " 10.0.0.1 - 10.0.0.2 ", want: "10.0.0.1-10.0.0.2"},
		{name: "single address", in: "10.0.0.7", want: "10.0.0.7-10.0.0.7"},
		{name: "host cidr", in: "10.0.0.7/32", want: "10.0.0.7-10.0.0.7"},
		{name: "ipv6 cidr", in: "fd00:100::/120", want: "fd00:100::-fd00:100::ff"},
		{name: "ipv6 cidr odd bits", in: "fd00:100::/117", want: "fd00:100::-fd00:100::7ff"},
		{name: "ipv6 range", in: "fd00::10-fd00::20", want: "fd00::10-fd00::20"},
		{name: "reversed range", in: "10.0.0.9-10.0.0.1", wantErr: true},
		{name: "mixed families", in: "10.0.0.1-fd00::1", wantErr: true},
		{name: "bad cidr", in: "10.0.0.0/33", wantErr: true},
		{name: "garbage", in: "pool", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePool(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParsePool(%q) = %v, want error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePool(%q): %v", tc.in, err)
			}
			if got.String() != tc.want {
				t.Errorf("ParsePool(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestParsePools(t *testing.T) {
	got, err := ParsePools([]string{"10.0.0.1-10.0.0.2,fd00::/127", "", "10.0.1.0/31"})
	if err != nil {
		t.Fatal(err)
	}
	var gotS []string
	for _, p := range got {
		gotS = append(gotS, p.String())
	}
	want := []string{"10.0.0.1-10.0.0.2", "fd00::-fd00::1", "10.0.1.0-10.0.1.1"}
	if diff := cmp.Diff(want, gotS); diff != "" {
		t.Errorf("ParsePools (-want +got):\n%s", diff)
	}
}

func TestAddrs(t *testing.T) {
	pools, err := ParsePools([]string{"10.0.0.1-10.0.0.2", "10.0.1.5", "fd00::/127"})
	if err != nil {
		t.Fatal(err)
	}
	s := newAddrs(pools)
	if owner, ok := s.claim(netip.MustParseAddr("10.0.0.2"), "ns/old"); !ok {
		t.Fatalf("claim 10.0.0.2: owner %q, want it free", owner)
	}
	if owner, ok := s.claim(netip.MustParseAddr("10.0.0.2"), "ns/other"); ok || owner != "ns/old" {
		t.Errorf("second claim: got %q, %v, want ns/old, false", owner, ok)
	}
	if owner, ok := s.claim(netip.MustParseAddr("10.9.9.9"), "ns/other"); ok || owner != "" {
		t.Errorf("claim outside pools: got %q, %v, want \"\", false", owner, ok)
	}
	var got []string
	for range 3 {
		a, err := s.allocate("ns/new", false)
		if err != nil {
			got = append(got, err.Error())
			continue
		}
		got = append(got, a.String())
	}
	a, err := s.allocate("ns/new", true)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, a.String())
	want := []string{"10.0.0.1", "10.0.1.5", ErrPoolExhausted.Error(), "fd00::"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("allocations (-want +got):\n%s", diff)
	}
	s.release(netip.MustParseAddr("10.0.0.2"), "ns/not-owner")
	s.release(netip.MustParseAddr("10.0.0.1"), "ns/new")
	if a, err := s.allocate("ns/x", false); err != nil || a.String() != "10.0.0.1" {
		t.Errorf("allocate after release: got %v, %v, want 10.0.0.1", a, err)
	}
}
