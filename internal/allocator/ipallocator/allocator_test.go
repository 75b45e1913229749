package ipallocator

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/svcnet/svcnet/internal/storage"
)

func mustNew(t *testing.T, cidr string) *Allocator {
	t.Helper()
	a, err := New(Config{CIDR: netip.MustParsePrefix(cidr)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSize(t *testing.T) {
	tests := []struct {
		name string
		cidr string
		want int
	}{
		{name: "IPv4 /24 without network and broadcast", cidr: "10.0.0.0/24", want: 254},
		{name: "IPv4 /12", cidr: "10.96.0.0/12", want: 1<<20 - 2},
		{name: "IPv4 /30", cidr: "192.168.1.0/30", want: 2},
		{name: "IPv6 /120 without network address", cidr: "fd00::/120", want: 255},
		{name: "IPv6 /64 is capped", cidr: "fd00:10:96::/64", want: 1 << 20},
		{name: "unmasked CIDR", cidr: "10.0.0.7/29", want: 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustNew(t, tc.cidr).Size(); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
	if _, err := New(Config{CIDR: netip.MustParsePrefix("10.0.0.1/32")}); err == nil {
		t.Errorf("/32: got no error, want one")
	}
}

func TestNeverNetworkOrBroadcast(t *testing.T) {
	a := mustNew(t, "10.0.0.0/29")
	var got []netip.Addr
	for {
		ip, err := a.AllocateNext()
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip)
	}
	if len(got) != 6 {
		t.Fatalf("got %d addresses, want 6", len(got))
	}
	for _, ip := range got {
		if ip == netip.MustParseAddr("10.0.0.0") || ip == netip.MustParseAddr("10.0.0.7") {
			t.Errorf("got %v, the network or broadcast address", ip)
		}
	}
	if a.Free() != 0 || a.Used() != 6 {
		t.Errorf("Free/Used: got %d/%d, want 0/6", a.Free(), a.Used())
	}
}

func TestAllocate(t *testing.T) {
	a := mustNew(t, "10.96.0.0/12")
	if err := a.Allocate(netip.MustParseAddr("10.96.0.10")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ip      string
		wantErr string
	}{
		{name: "taken", ip: "10.96.0.10", wantErr: "provided IP is already allocated"},
		{name: "outside", ip: "10.0.0.5",
			wantErr: "the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12"},
		{name: "network address", ip: "10.96.0.0",
			wantErr: "the provided IP (10.96.0.0) is not in the valid range. The range of valid IPs is 10.96.0.0/12"},
		{name: "broadcast address", ip: "10.111.255.255",
			wantErr: "the provided IP (10.111.255.255) is not in the valid range. The range of valid IPs is 10.96.0.0/12"},
		{name: "other family", ip: "fd00::1",
			wantErr: "the provided IP (fd00::1) is not in the valid range. The range of valid IPs is 10.96.0.0/12"},
		{name: "last usable", ip: "10.111.255.254"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := a.Allocate(netip.MustParseAddr(tc.ip))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("got %q, want %q", got, tc.wantErr)
			}
		})
	}
	if !a.Has(netip.MustParseAddr("10.96.0.10")) {
		t.Errorf("Has: got false, want true")
	}
	a.Release(netip.MustParseAddr("10.96.0.10"))
	if a.Has(netip.MustParseAddr("10.96.0.10")) {
		t.Errorf("Has after Release: got true, want false")
	}
}

func TestDynamicBand(t *testing.T) {
	a := mustNew(t, "10.0.0.0/24") // 254 usable, static band 16
	if got, want := a.StaticBandEnd(), netip.MustParseAddr("10.0.0.17"); got != want {
		t.Fatalf("StaticBandEnd: got %v, want %v", got, want)
	}
	for i := 0; i < 254-16; i++ {
		ip, err := a.AllocateNext()
		if err != nil {
			t.Fatal(err)
		}
		if ip.Less(a.StaticBandEnd()) {
			t.Fatalf("allocation %d: got %v from the static band", i, ip)
		}
	}
	ip, err := a.AllocateNext()
	if err != nil {
		t.Fatal(err)
	}
	if !ip.Less(a.StaticBandEnd()) {
		t.Errorf("got %v, want an address of the static band once the dynamic one is full", ip)
	}
}

func TestIPv6(t *testing.T) {
	a := mustNew(t, "fd00:10:96::/112")
	if !a.IsIPv6() {
		t.Fatal("IsIPv6: got false")
	}
	ip, err := a.AllocateNext()
	if err != nil {
		t.Fatal(err)
	}
	if !a.CIDR().Contains(ip) || ip == a.CIDR().Addr() {
		t.Errorf("got %v", ip)
	}
	if err := a.Allocate(netip.MustParseAddr("fd00:10:96::ffff")); err != nil {
		t.Errorf("last address: got %v, want nil", err)
	}
}

func TestKeys(t *testing.T) {
	ip := netip.MustParseAddr("10.96.0.5")
	if got, want := Key(ip), "/registry/ipaddresses/10.96.0.5"; got != want {
		t.Errorf("Key: got %q, want %q", got, want)
	}
	got, ok := ParseKey(Key(ip))
	if !ok || got != ip {
		t.Errorf("ParseKey: got %v, %v", got, ok)
	}
	if _, ok := ParseKey("/registry/reservations/servicenodeports/30000"); ok {
		t.Errorf("ParseKey of a port key: got ok")
	}
}

// reservations is a store that only lists reservation keys.
type reservations struct {
	storage.Interface
	keys map[string]string
}

func (r reservations) Reservations(_ context.Context, prefix string) (map[string]string, int64, error) {
	return r.keys, 1, nil
}

func TestRefresh(t *testing.T) {
	a := mustNew(t, "10.96.0.0/24")
	if err := a.Allocate(netip.MustParseAddr("10.96.0.99")); err != nil {
		t.Fatal(err)
	}
	store := reservations{keys: map[string]string{
		KeyPrefix + "10.96.0.1":  "/registry/services/specs/default/kubernetes",
		KeyPrefix + "10.96.0.20": "/registry/services/specs/default/web",
		KeyPrefix + "10.1.0.1":   "/registry/services/specs/default/old",
		KeyPrefix + "garbage":    "x",
	}}
	if err := a.Refresh(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	var got []string
	a.ForEach(func(ip netip.Addr) { got = append(got, ip.String()) })
	if diff := cmp.Diff([]string{"10.96.0.1", "10.96.0.20"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
