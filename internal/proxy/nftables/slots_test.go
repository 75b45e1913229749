package nftables

import "testing"

func TestSlotAllocator(t *testing.T) {
	a := newSlotAllocator()
	steps := []struct {
		name    string
		n       int
		release *slotBlock // released before allocating
		want    slotBlock
	}{
		{name: "one endpoint", n: 1, want: slotBlock{start: 0, size: 1}},
		{name: "rounded up to a power of two", n: 3, want: slotBlock{start: 1, size: 4}},
		{name: "exact power of two", n: 4, want: slotBlock{start: 5, size: 4}},
		{name: "freed block of the same size reused", n: 4, release: &slotBlock{start: 1, size: 4}, want: slotBlock{start: 1, size: 4}},
		{name: "freed block of another size not reused", n: 2, release: &slotBlock{start: 5, size: 4}, want: slotBlock{start: 9, size: 2}},
		{name: "large", n: 1000, want: slotBlock{start: 11, size: 1024}},
	}
	for _, st := range steps {
		if st.release != nil {
			a.release(*st.release)
		}
		got, err := a.alloc(st.n)
		if err != nil || got != st.want {
			t.Errorf("%s: alloc(%d) = %+v, %v, want %+v", st.name, st.n, got, err, st.want)
		}
	}
	a.next = maxSlot - 2
	if _, err := a.alloc(8); err != errSlotsExhausted {
		t.Errorf("alloc past the last key: got %v, want errSlotsExhausted", err)
	}
}
