package conntrack

import (
	"sort"
	"strconv"
	"testing"
)

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return n
}

func sortEntries(es []Entry, order map[Entry]int) {
	sort.Slice(es, func(i, j int) bool { return order[es[i]] < order[es[j]] })
}
