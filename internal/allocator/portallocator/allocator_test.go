package portallocator

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/svcnet/svcnet/internal/storage"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in      string
		want    Range
		wantErr bool
	}{
		{in: "30000-32767", want: Range{Base: 30000, Size: 2768}},
		{in: " 8080 ", want: Range{Base: 8080, Size: 1}},
		{in: "32767-30000", wantErr: true},
		{in: "0-10", wantErr: true},
		{in: "1-65536", wantErr: true},
		{in: "a-b", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRange(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := (Range{Base: 30000, Size: 2768}).String(); got != "30000-32767" {
		t.Errorf("String: got %q", got)
	}
}

func mustNew(t *testing.T, r string) *Allocator {
	t.Helper()
	pr, err := ParseRange(r)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Range: pr})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAllocate(t *testing.T) {
	a := mustNew(t, "30000-32767")
	if err := a.Allocate(30001); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		port    int
		wantErr string
	}{
		{name: "taken", port: 30001, wantErr: "provided port is already allocated"},
		{name: "below", port: 8080, wantErr: "provided port is not in the valid range. The range of valid ports is 30000-32767"},
		{name: "above", port: 32768, wantErr: "provided port is not in the valid range. The range of valid ports is 30000-32767"},
		{name: "first", port: 30000},
		{name: "last", port: 32767},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := a.Allocate(tc.port)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("got %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestBandsAndExhaustion(t *testing.T) {
	a := mustNew(t, "30000-30199") // 200 ports, static band 16
	if got, want := a.StaticBandEnd(), 30016; got != want {
		t.Fatalf("StaticBandEnd: got %d, want %d", got, want)
	}
	for i := 0; i < 184; i++ {
		p, err := a.AllocateNext()
		if err != nil {
			t.Fatal(err)
		}
		if p < 30016 || p > 30199 {
			t.Fatalf("allocation %d: got %d, want a port of the dynamic band", i, p)
		}
	}
	for i := 0; i < 16; i++ {
		p, err := a.AllocateNext()
		if err != nil {
			t.Fatal(err)
		}
		if p >= 30016 {
			t.Fatalf("got %d, want a port of the static band", p)
		}
	}
	if _, err := a.AllocateNext(); !errors.Is(err, ErrFull) {
		t.Fatalf("got %v, want ErrFull", err)
	}
	a.Release(30100)
	a.Release(8080) // ignored
	if p, err := a.AllocateNext(); err != nil || p != 30100 {
		t.Errorf("after release: got %d, %v, want 30100", p, err)
	}
	if a.Has(8080) || !a.Has(30100) {
		t.Errorf("Has: wrong")
	}
}

type reservations struct {
	storage.Interface
	keys map[string]string
}

func (r reservations) Reservations(context.Context, string) (map[string]string, int64, error) {
	return r.keys, 7, nil
}

func TestRefreshAndKeys(t *testing.T) {
	if got, want := Key(30080), "/registry/reservations/servicenodeports/30080"; got != want {
		t.Errorf("Key: got %q, want %q", got, want)
	}
	a := mustNew(t, "30000-32767")
	_ = a.Allocate(31000)
	err := a.Refresh(context.Background(), reservations{keys: map[string]string{
		Key(30080): "a", Key(32767): "b", Key(80): "c", KeyPrefix + "x": "d",
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	a.ForEach(func(p int) { got = append(got, p) })
	if diff := cmp.Diff([]int{30080, 32767}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
