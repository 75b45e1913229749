package printers

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// nodeLostReason is the pod status reason the node lifecycle controller
// sets on pods of an unreachable node.
const nodeLostReason = "NodeLost"

// Pods prints core/v1 Pods: NAME READY STATUS RESTARTS AGE, and IP NODE
// NOMINATED NODE READINESS GATES with -o wide.
func Pods(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).Pods(ctx, obj, opts)
}

// Pods is the package-level Pods with p's clock.
func (p *Printer) Pods(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
		{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
		{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
		ageColumn(),
		{Name: "IP", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["podIP"]},
		{Name: "Node", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["nodeName"]},
		{Name: "Nominated Node", Type: "string", Priority: 1, Description: corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]},
		{Name: "Readiness Gates", Type: "string", Priority: 1, Description: corev1.PodSpec{}.SwaggerDoc()["readinessGates"]},
	}
	return build(p, columns, obj, opts, podRow)
}

// podSummary is what the READY, STATUS and RESTARTS columns show.
type podSummary struct {
	ready, total int
	reason       string
	restarts     int
	lastRestart  metav1.Time
}

func podRow(now time.Time, pod *corev1.Pod, row *metav1.TableRow) error {
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		row.Conditions = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(corev1.PodSucceeded), Message: "The pod has completed successfully."}}
	case corev1.PodFailed:
		row.Conditions = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(corev1.PodFailed), Message: "The pod failed."}}
	}
	sum := summarizePod(pod)
	restarts := strconv.Itoa(sum.restarts)
	if sum.restarts != 0 && !sum.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", sum.restarts, since(now, sum.lastRestart))
	}

	ip := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		ip = pod.Status.PodIPs[0].IP
	}
	gates := "<none>"
	if n := len(pod.Spec.ReadinessGates); n > 0 {
		met := 0
		for _, g := range pod.Spec.ReadinessGates {
			if c := podCondition(pod, g.ConditionType); c != nil && c.Status == corev1.ConditionTrue {
				met++
			}
		}
		gates = fmt.Sprintf("%d/%d", met, n)
	}
	row.Cells = append(row.Cells, pod.Name, fmt.Sprintf("%d/%d", sum.ready, sum.total), sum.reason, restarts,
		since(now, pod.CreationTimestamp), orNone(ip), orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName), gates)
	return nil
}

// summarizePod derives the READY, STATUS and RESTARTS values the way
// kubectl shows them: the phase (or status reason), overridden by the
// first unfinished init container ("Init:1/2", "Init:CrashLoopBackOff"),
// else by the waiting or terminated reason of the containers
// ("CrashLoopBackOff", "Completed", "ExitCode:1"), and finally by
// "Terminating" for a pod being deleted.
func summarizePod(pod *corev1.Pod) podSummary {
	sum := podSummary{total: len(pod.Spec.Containers), reason: string(pod.Status.Phase)}
	if pod.Status.Reason != "" {
		sum.reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			sum.reason = corev1.PodReasonSchedulingGated
		}
	}

	// Sidecars (restartable init containers) count as containers.
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			sum.total++
		}
	}

	var sidecarRestarts int
	var sidecarLastRestart metav1.Time
	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		sum.restarts += int(cs.RestartCount)
		sum.lastRestart = laterTermination(sum.lastRestart, cs)
		if sidecars[cs.Name] {
			sidecarRestarts += int(cs.RestartCount)
			sidecarLastRestart = laterTermination(sidecarLastRestart, cs)
		}
		t := cs.State.Terminated
		switch {
		case t != nil && t.ExitCode == 0:
			continue
		case sidecars[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				sum.ready++
			}
			continue
		}
		sum.reason, initializing = initReason(cs, i, len(pod.Spec.InitContainers)), true
		break
	}

	if !initializing || conditionTrue(pod, corev1.PodInitialized) {
		sum.restarts, sum.lastRestart = sidecarRestarts, sidecarLastRestart
		running := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			sum.restarts += int(cs.RestartCount)
			sum.lastRestart = laterTermination(sum.lastRestart, cs)
			switch t := cs.State.Terminated; {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				sum.reason = cs.State.Waiting.Reason
			case t != nil && t.Reason != "":
				sum.reason = t.Reason
			case t != nil && t.Signal != 0:
				sum.reason = fmt.Sprintf("Signal:%d", t.Signal)
			case t != nil:
				sum.reason = fmt.Sprintf("ExitCode:%d", t.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				running = true
				sum.ready++
			}
		}
		// A pod with a completed container but another still running is
		// not complete.
		if sum.reason == "Completed" && running {
			sum.reason = "NotReady"
			if conditionTrue(pod, corev1.PodReady) {
				sum.reason = "Running"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == nodeLostReason:
			sum.reason = "Unknown"
		case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			sum.reason = "Terminating"
		}
	}
	return sum
}

// initReason is the STATUS of a pod held in initialization by init
// container status cs, the i-th of n.
func initReason(cs corev1.ContainerStatus, i, n int) string {
	t := cs.State.Terminated
	switch {
	case t != nil && t.Reason != "":
		return "Init:" + t.Reason
	case t != nil && t.Signal != 0:
		return fmt.Sprintf("Init:Signal:%d", t.Signal)
	case t != nil:
		return fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
	case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
		return "Init:" + cs.State.Waiting.Reason
	}
	return fmt.Sprintf("Init:%d/%d", i, n)
}

// laterTermination returns the later of last and the last termination
// time of cs.
func laterTermination(last metav1.Time, cs corev1.ContainerStatus) metav1.Time {
	if t := cs.LastTerminationState.Terminated; t != nil && last.Before(&t.FinishedAt) {
		return t.FinishedAt
	}
	return last
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func conditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	c := podCondition(pod, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// PodTemplates prints core/v1 PodTemplates: NAME CONTAINERS IMAGES POD
// LABELS.
func PodTemplates(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).PodTemplates(ctx, obj, opts)
}

// PodTemplates is the package-level PodTemplates with p's clock.
func (p *Printer) PodTemplates(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Containers", Type: "string", Description: "Names of each container in the template."},
		{Name: "Images", Type: "string", Description: "Images referenced by each container in the template."},
		{Name: "Pod Labels", Type: "string", Description: "The labels for the pod template."},
	}
	return build(p, columns, obj, opts, func(_ time.Time, t *corev1.PodTemplate, row *metav1.TableRow) error {
		names, images := containerCells(t.Template.Spec.Containers)
		row.Cells = append(row.Cells, t.Name, names, images, labels.FormatLabels(t.Template.Labels))
		return nil
	})
}
