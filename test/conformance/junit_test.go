package conformance

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// report is a Ginkgo v2 JUnit report as e2e.test writes it, cut down.
const report = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" disabled="0" errors="0" failures="1" time="95.5">
  <testsuite name="Kubernetes e2e suite" package="/e2e" tests="6" disabled="0" skipped="2" errors="0" failures="1">
    <testcase name="[SynchronizedBeforeSuite]" classname="Kubernetes e2e suite" status="passed" time="1.2"></testcase>
    <testcase name="[It] [sig-network] DNS should provide DNS for services  [Conformance] [Conformance, sig-network]" classname="Kubernetes e2e suite" status="passed" time="12.25"></testcase>
    <testcase name="[It] [sig-network] Services should serve a basic endpoint from pods  [Conformance]" classname="Kubernetes e2e suite" status="failed" time="80">
      <failure message="[FAILED] failed to validate endpoints | for service&#xA;Unexpected error:&#xA;    timed out" type="failed">[FAILED] long description</failure>
    </testcase>
    <testcase name="[It] [sig-storage] Secrets should be consumable" classname="Kubernetes e2e suite" status="skipped" time="0">
      <skipped message="skipped"></skipped>
    </testcase>
    <testcase name="[It] [sig-network] Networking should work across 3 nodes [Feature:X]" classname="Kubernetes e2e suite" status="skipped" time="0.5">
      <skipped message="skipped - Requires at least 3 nodes (not 2)"></skipped>
    </testcase>
    <testcase name="[It] [sig-network] HostPort is pending" classname="Kubernetes e2e suite" status="pending" time="0">
      <skipped message="pending"></skipped>
    </testcase>
    <testcase name="[SynchronizedAfterSuite]" classname="Kubernetes e2e suite" status="failed" time="2">
      <failure message="cleanup failed" type="failed"></failure>
    </testcase>
  </testsuite>
</testsuites>`

func TestReadResults(t *testing.T) {
	got, err := ReadResults(strings.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Spec: "[sig-network] DNS should provide DNS for services [Conformance]", State: "passed",
			Seconds: 12.25},
		{Spec: "[sig-network] Services should serve a basic endpoint from pods [Conformance]", State: "failed", Seconds: 80,
			Message: "[FAILED] failed to validate endpoints | for service"},
		{Spec: "[sig-network] Networking should work across 3 nodes [Feature:X]", State: "skipped", Seconds: 0.5,
			Message: "skipped - Requires at least 3 nodes (not 2)"},
		{Spec: "[SynchronizedAfterSuite]", State: "failed", Seconds: 2, Message: "cleanup failed"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

func TestWriteMarkdown(t *testing.T) {
	results, err := ReadResults(strings.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteMarkdown(&b, results); err != nil {
		t.Fatal(err)
	}
	want := `4 specs: 1 passed, 2 failed, 1 skipped.

| spec | result | seconds | first line of the failure |
|---|---|---:|---|
| [SynchronizedAfterSuite] | failed | 2.0 | cleanup failed |
| [sig-network] DNS should provide DNS for services [Conformance] | passed | 12.2 |  |
| [sig-network] Networking should work across 3 nodes [Feature:X] | skipped | 0.5 | skipped - Requires at least 3 nodes (not 2) |
| [sig-network] Services should serve a basic endpoint from pods [Conformance] | failed | 80.0 | [FAILED] failed to validate endpoints \| for service |
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("markdown (-want +got):\n%s", diff)
	}
}
