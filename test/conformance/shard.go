package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// dryRunReport mirrors the parts of Ginkgo's JSON report (a list of suite
// reports) that Shards reads.
type dryRunReport []struct {
	SuiteDescription string
	SpecReports      []struct {
		ContainerHierarchyTexts []string
		LeafNodeText            string
		LeafNodeType            string
		State                   string
		IsSerial                bool
	}
}

// Shards splits the specs a dry run of e2e.test would run (its Ginkgo
// JSON report, --ginkgo.dry-run --ginkgo.json-report) into at most n focus
// regexps that each match exactly their specs, dealt round-robin so the
// groups are about equal. Serial specs must run while nothing else does:
// they come back as one more regexp, serial ("" when there are none).
func Shards(r io.Reader, n int) (parallel []string, serial string, err error) {
	var report dryRunReport
	if err := json.NewDecoder(r).Decode(&report); err != nil {
		return nil, "", fmt.Errorf("parse Ginkgo JSON report: %w", err)
	}
	groups := make([][]string, n)
	var serialSpecs []string
	next := 0
	for _, suite := range report {
		for _, spec := range suite.SpecReports {
			// A dry run reports the specs it would run as passed, the ones
			// the focus filters out as skipped.
			if spec.LeafNodeType != "It" || spec.State != "passed" {
				continue
			}
			// Ginkgo matches focus against the suite description and the
			// non-empty texts of the spec's nodes, joined by spaces.
			texts := []string{suite.SuiteDescription}
			for _, t := range append(spec.ContainerHierarchyTexts, spec.LeafNodeText) {
				if t != "" {
					texts = append(texts, t)
				}
			}
			text := regexp.QuoteMeta(strings.Join(texts, " "))
			if spec.IsSerial || strings.Contains(text, `\[Serial\]`) {
				serialSpecs = append(serialSpecs, text)
				continue
			}
			groups[next%n] = append(groups[next%n], text)
			next++
		}
	}
	for _, g := range groups {
		if len(g) > 0 {
			parallel = append(parallel, exactly(g))
		}
	}
	if len(serialSpecs) > 0 {
		serial = exactly(serialSpecs)
	}
	return parallel, serial, nil
}

// exactly is a regexp matching any of the quoted texts and nothing else.
func exactly(quoted []string) string {
	return "^(" + strings.Join(quoted, "|") + ")$"
}
