package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Result is one spec of an e2e.test run.
type Result struct {
	// Spec is the spec's full text, e.g. "[sig-network] DNS should
	// provide DNS for services [Conformance]".
	Spec string
	// State is Ginkgo's: passed, failed, skipped, panicked, interrupted,
	// timedout, aborted.
	State   string
	Seconds float64
	// Message is the first line of the failure (or of the reason a spec
	// skipped itself); empty for a pass.
	Message string
}

// Failed reports whether the spec did not pass and was not skipped.
func (r Result) Failed() bool { return r.State != "passed" && r.State != "skipped" }

// junit mirrors the parts of Ginkgo's JUnit report that Results reads.
type junit struct {
	XMLName xml.Name
	Suites  []junit     `xml:"testsuite"`
	Cases   []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name    string        `xml:"name,attr"`
	Status  string        `xml:"status,attr"`
	Time    float64       `xml:"time,attr"`
	Failure *junitMessage `xml:"failure"`
	Error   *junitMessage `xml:"error"`
	Skipped *junitMessage `xml:"skipped"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// ReadResults parses a Ginkgo JUnit report (<testsuites> or a single
// <testsuite>) and returns the specs that ran, in report order. Specs the
// focus filtered out are left out: Ginkgo reports them as skipped with the
// bare message "skipped", while a spec that skipped itself says why
// ("skipped - Requires at least 2 nodes"); pending specs never run. Suite
// set-up nodes ([SynchronizedBeforeSuite] ...) are kept only when they did
// not pass, since then no spec could.
func ReadResults(r io.Reader) ([]Result, error) {
	var doc junit
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("parse JUnit: %w", err)
	}
	var out []Result
	var walk func(j junit)
	walk = func(j junit) {
		for _, c := range j.Cases {
			if res, ok := result(c); ok {
				out = append(out, res)
			}
		}
		for _, s := range j.Suites {
			walk(s)
		}
	}
	walk(doc)
	return out, nil
}

// result converts one test case; ok is false for a case Results leaves out.
func result(c junitCase) (Result, bool) {
	name := strings.Join(strings.Fields(c.Name), " ")
	setup := !strings.HasPrefix(name, "[It] ")
	res := Result{Spec: withoutLabels(strings.TrimPrefix(name, "[It] ")), State: c.Status, Seconds: c.Time}
	if res.State == "" { // older reports: state from the elements
		switch {
		case c.Failure != nil || c.Error != nil:
			res.State = "failed"
		case c.Skipped != nil:
			res.State = "skipped"
		default:
			res.State = "passed"
		}
	}
	for _, m := range []*junitMessage{c.Failure, c.Error, c.Skipped} {
		if m != nil && res.Message == "" {
			res.Message = firstLine(m.Message)
			if res.Message == "" {
				res.Message = firstLine(m.Body)
			}
		}
	}
	switch {
	case res.State == "pending",
		res.State == "skipped" && (res.Message == "" || res.Message == "skipped"):
		return res, false
	case setup && !res.Failed():
		return res, false
	}
	return res, true
}

// withoutLabels drops the " [a, b]" list of labels Ginkgo appends to a
// spec's name when every label in it is also a "[tag]" of the spec's text,
// as Kubernetes' labels are ("... [Conformance] [sig-network, Conformance]").
func withoutLabels(name string) string {
	i := strings.LastIndex(name, " [")
	if i < 0 || !strings.HasSuffix(name, "]") {
		return name
	}
	text := name[:i]
	for _, label := range strings.Split(name[i+2:len(name)-1], ", ") {
		if !strings.Contains(text, "["+label+"]") {
			return name
		}
	}
	return text
}

// firstLine is the first non-blank line of s, trimmed.
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// Counts tallies results by state.
func Counts(results []Result) map[string]int {
	counts := map[string]int{}
	for _, r := range results {
		counts[r.State]++
	}
	return counts
}

// WriteMarkdown writes a summary line and a table of results (spec,
// result, seconds, first line of the failure) to w, sorted by spec so that
// runs compare line by line whatever order the specs ran in.
func WriteMarkdown(w io.Writer, results []Result) error {
	results = slices.SortedFunc(slices.Values(results), func(a, b Result) int { return strings.Compare(a.Spec, b.Spec) })
	counts := Counts(results)
	failed := 0
	for _, r := range results {
		if r.Failed() {
			failed++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d specs: %d passed, %d failed, %d skipped.\n\n", len(results), counts["passed"], failed,
		counts["skipped"])
	b.WriteString("| spec | result | seconds | first line of the failure |\n|---|---|---:|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %.1f | %s |\n", cell(r.Spec), r.State, r.Seconds, cell(r.Message))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell escapes text for a Markdown table cell and caps its length.
func cell(s string) string {
	const max = 200 // a table row stays readable; the JUnit has the rest
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return strings.ReplaceAll(s, "|", `\|`)
}
