package conformance

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dryRun is a Ginkgo JSON report of a dry run, cut down.
const dryRun = `[{"SuiteDescription": "Kubernetes e2e suite", "SpecReports": [
  {"LeafNodeType": "SynchronizedBeforeSuite", "State": "passed"},
  {"ContainerHierarchyTexts": ["[sig-network] DNS"], "LeafNodeText": "should provide DNS for services  [Conformance]", "LeafNodeType": "It", "State": "passed"},
  {"ContainerHierarchyTexts": ["[sig-network] Services"], "LeafNodeText": "should serve a basic endpoint (a.b) [Conformance]", "LeafNodeType": "It", "State": "passed"},
  {"ContainerHierarchyTexts": ["[sig-storage] Secrets"], "LeafNodeText": "should be consumable", "LeafNodeType": "It", "State": "skipped"},
  {"ContainerHierarchyTexts": ["[sig-network] Proxy", ""], "LeafNodeText": "version v1 should proxy [Conformance]", "LeafNodeType": "It", "State": "passed"},
  {"ContainerHierarchyTexts": ["[sig-network] Services"], "LeafNodeText": "should survive a restart [Serial]", "LeafNodeType": "It", "State": "passed"},
  {"ContainerHierarchyTexts": ["[sig-network] Networking"], "LeafNodeText": "decorated", "LeafNodeType": "It", "State": "passed", "IsSerial": true}
]}]`

func TestShards(t *testing.T) {
	parallel, serial, err := Shards(strings.NewReader(dryRun), 2)
	if err != nil {
		t.Fatal(err)
	}
	const suite = "Kubernetes e2e suite "
	wantGroups := [][]string{
		{suite + "[sig-network] DNS should provide DNS for services  [Conformance]",
			suite + "[sig-network] Proxy version v1 should proxy [Conformance]"},
		{suite + "[sig-network] Services should serve a basic endpoint (a.b) [Conformance]"},
	}
	wantSerial := []string{suite + "[sig-network] Services should survive a restart [Serial]",
		suite + "[sig-network] Networking decorated"}
	all := append(append([]string{}, wantGroups[0]...), append(wantGroups[1], wantSerial...)...)
	all = append(all, suite+"[sig-storage] Secrets should be consumable",
		suite+"[sig-network] Services should serve a basic endpoint (aXb) [Conformance]")
	got := [][]string{}
	for _, re := range append(parallel, serial) {
		var matched []string
		for _, text := range all {
			if regexp.MustCompile(re).MatchString(text) {
				matched = append(matched, text)
			}
		}
		got = append(got, matched)
	}
	if diff := cmp.Diff(append(wantGroups, wantSerial), got); diff != "" {
		t.Errorf("specs each regexp matches (-want +got):\n%s", diff)
	}
}
