package conntrack

import (
	"context"
	"slices"
	"sync"

	"github.com/svcnet/svcnet/internal/proxy"
)

// Entry is one connection-tracking entry as far as stale-flow cleanup cares.
type Entry struct {
	// Protocol is "udp" or "tcp".
	Protocol string
	// OrigDst and OrigPort are the original destination.
	OrigDst  string
	OrigPort int32
	// ReplySrc is the reply direction's source: the endpoint for a DNATed
	// flow, OrigDst otherwise.
	ReplySrc string
}

// Matches reports whether `conntrack Args(f)` would delete e.
func Matches(f proxy.StaleFlow, e Entry) bool {
	return e.Protocol == "udp" &&
		(f.OrigDst == "" || f.OrigDst == e.OrigDst) &&
		f.Port == e.OrigPort &&
		(f.Endpoint == "" || f.Endpoint == e.ReplySrc)
}

// Fake is an in-memory conntrack table. It implements proxy.Conntrack.
type Fake struct {
	mu      sync.Mutex
	entries []Entry
}

var _ proxy.Conntrack = (*Fake)(nil)

// NewFake returns a table holding entries.
func NewFake(entries ...Entry) *Fake {
	return &Fake{entries: slices.Clone(entries)}
}

// Add inserts an entry.
func (f *Fake) Add(e Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, e)
}

// Entries returns a copy of the table.
func (f *Fake) Entries() []Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.entries)
}

// DeleteUDP removes every entry matched by a flow.
func (f *Fake) DeleteUDP(_ context.Context, flows []proxy.StaleFlow) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = slices.DeleteFunc(f.entries, func(e Entry) bool {
		return slices.ContainsFunc(flows, func(fl proxy.StaleFlow) bool { return Matches(fl, e) })
	})
	return nil
}
