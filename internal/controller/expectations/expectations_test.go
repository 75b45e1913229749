package expectations

import (
	"testing"
	"time"
)

func TestExpectations(t *testing.T) {
	now := time.Unix(0, 0)
	e := New(func() time.Time { return now })
	e.Expect("ns/rs", 2, []string{"ns/p"})
	for _, step := range []struct {
		name string
		do   func()
		want bool
	}{
		{"expecting", func() {}, false},
		{"creations seen", func() { e.CreationObserved("ns/rs"); e.CreationObserved("ns/rs") }, false},
		{"deletion seen", func() { e.DeletionObserved("ns/rs", "ns/p") }, true},
		{"expecting again", func() { e.Expect("ns/rs", 1, nil) }, false},
		{"expired", func() { now = now.Add(TTL + time.Second) }, true},
		{"forgotten", func() { e.Expect("ns/rs", 1, nil); e.Forget("ns/rs") }, true},
	} {
		step.do()
		if got := e.Satisfied("ns/rs"); got != step.want {
			t.Errorf("%s: satisfied: got %v, want %v", step.name, got, step.want)
		}
	}
	if !e.Satisfied("ns/other") {
		t.Errorf("unknown key: got unsatisfied, want satisfied")
	}
}
