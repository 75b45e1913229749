package allocator

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBandOffset(t *testing.T) {
	tests := []struct {
		name               string
		size, lo, hi, step int
		want               int
	}{
		{name: "tiny range has no static band", size: 8, lo: 16, hi: 256, step: 16, want: 0},
		{name: "small range gets the minimum", size: 254, lo: 16, hi: 256, step: 16, want: 16},
		{name: "mid range scales", size: 4094, lo: 16, hi: 256, step: 16, want: 255},
		{name: "large range is capped", size: 1 << 20, lo: 16, hi: 256, step: 16, want: 256},
		{name: "default node port range", size: 2768, lo: 16, hi: 128, step: 32, want: 86},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := BandOffset(tc.size, tc.lo, tc.hi, tc.step); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestAllocateNextPrefersDynamicBand(t *testing.T) {
	b := NewBitmap(100, 20)
	for i := 0; i < 80; i++ {
		got, err := b.AllocateNext()
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if got < 20 {
			t.Fatalf("allocation %d: got %d from the static band while the dynamic band had room", i, got)
		}
	}
	for i := 0; i < 20; i++ {
		got, err := b.AllocateNext()
		if err != nil {
			t.Fatalf("static allocation %d: %v", i, err)
		}
		if got >= 20 {
			t.Fatalf("got %d, want an offset of the static band", got)
		}
	}
	if _, err := b.AllocateNext(); !errors.Is(err, ErrFull) {
		t.Errorf("got %v, want ErrFull", err)
	}
	if got, want := b.Used(), 100; got != want {
		t.Errorf("Used: got %d, want %d", got, want)
	}
	if got := b.Free(); got != 0 {
		t.Errorf("Free: got %d, want 0", got)
	}
	b.Release(42)
	got, err := b.AllocateNext()
	if err != nil || got != 42 {
		t.Errorf("after release: got %d, %v, want 42", got, err)
	}
}

func TestAllocate(t *testing.T) {
	b := NewBitmap(70, 0)
	if err := b.Allocate(65); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		i    int
		want error
	}{
		{name: "taken", i: 65, want: ErrAllocated},
		{name: "negative", i: -1, want: ErrOutOfRange},
		{name: "past the end", i: 70, want: ErrOutOfRange},
		{name: "free", i: 69, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := b.Allocate(tc.i); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	if !b.Has(65) || b.Has(64) {
		t.Errorf("Has: got %v/%v, want true/false", b.Has(65), b.Has(64))
	}
}

func TestResetAndForEach(t *testing.T) {
	b := NewBitmap(200, 16)
	if err := b.Allocate(3); err != nil {
		t.Fatal(err)
	}
	b.Reset([]int{150, 7, 64, 7, 500, -2})
	var got []int
	b.ForEach(func(i int) { got = append(got, i) })
	if diff := cmp.Diff([]int{7, 64, 150}, got); diff != "" {
		t.Errorf("ForEach (-want +got):\n%s", diff)
	}
	if b.Used() != 3 {
		t.Errorf("Used: got %d, want 3", b.Used())
	}
}

func TestFullSmallRange(t *testing.T) {
	// A range that ends inside a word must never hand out bits past it.
	b := NewBitmap(3, 0)
	seen := map[int]bool{}
	for i := 0; i < 3; i++ {
		got, err := b.AllocateNext()
		if err != nil {
			t.Fatal(err)
		}
		if got < 0 || got >= 3 || seen[got] {
			t.Fatalf("got %d (seen %v)", got, seen)
		}
		seen[got] = true
	}
	if _, err := b.AllocateNext(); !errors.Is(err, ErrFull) {
		t.Errorf("got %v, want ErrFull", err)
	}
}
