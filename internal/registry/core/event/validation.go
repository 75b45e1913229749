package event

import (
	"fmt"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Length limits of event fields.
const (
	ReportingInstanceLengthLimit = 128
	ActionLengthLimit            = 128
	ReasonLengthLimit            = 128
	NoteLengthLimit              = 1024
)

// API is the API an event was written through; validation depends on it.
type API int

const (
	// CoreV1 is core/v1: only the legacy checks apply, for old clients.
	CoreV1 API = iota
	// EventsV1 is events.k8s.io/v1: the strict checks apply as well.
	EventsV1
)

// ValidateEventCreate validates a new event (in its core/v1 form).
func ValidateEventCreate(e *corev1.Event, api API) field.ErrorList {
	allErrs := legacyValidate(e, api)
	if api == CoreV1 {
		// The generic metadata checks every kind gets.
		return append(allErrs, apimachineryvalidation.ValidateObjectMeta(&e.ObjectMeta, true, path.ValidatePathSegmentName, field.NewPath("metadata"))...)
	}
	allErrs = append(allErrs, apimachineryvalidation.ValidateObjectMeta(&e.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	allErrs = append(allErrs, validateSeries(e)...)
	if e.EventTime.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		allErrs = append(allErrs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	if !e.FirstTimestamp.IsZero() {
		allErrs = append(allErrs, field.Invalid(field.NewPath("firstTimestamp"), "", "needs to be unset"))
	}
	if !e.LastTimestamp.IsZero() {
		allErrs = append(allErrs, field.Invalid(field.NewPath("lastTimestamp"), "", "needs to be unset"))
	}
	if e.Count != 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("count"), "", "needs to be unset"))
	}
	if e.Source.Component != "" || e.Source.Host != "" {
		allErrs = append(allErrs, field.Invalid(field.NewPath("source"), "", "needs to be unset"))
	}
	return allErrs
}

// ValidateEventUpdate validates an event update (in core/v1 form). Through
// events.k8s.io/v1 everything but the series and metadata is immutable.
func ValidateEventUpdate(e, old *corev1.Event, api API) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&e.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, legacyValidate(e, api)...)
	if api == CoreV1 {
		return allErrs
	}
	if !reflect.DeepEqual(e.Series, old.Series) {
		allErrs = append(allErrs, validateSeries(e)...)
	}
	immutable := func(n, o any, name string) {
		allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(n, o, field.NewPath(name))...)
	}
	immutable(e.InvolvedObject, old.InvolvedObject, "involvedObject")
	immutable(e.Reason, old.Reason, "reason")
	immutable(e.Message, old.Message, "message")
	immutable(e.Source, old.Source, "source")
	immutable(e.FirstTimestamp, old.FirstTimestamp, "firstTimestamp")
	immutable(e.LastTimestamp, old.LastTimestamp, "lastTimestamp")
	immutable(e.Count, old.Count, "count")
	immutable(e.Type, old.Type, "type")
	// Sub-microsecond differences come from clients that serialise with
	// more precision than the wire format keeps.
	if !e.EventTime.Truncate(time.Microsecond).Equal(old.EventTime.Truncate(time.Microsecond)) {
		immutable(e.EventTime, old.EventTime, "eventTime")
	}
	immutable(e.Action, old.Action, "action")
	immutable(e.Related, old.Related, "related")
	immutable(e.ReportingController, old.ReportingController, "reportingController")
	immutable(e.ReportingInstance, old.ReportingInstance, "reportingInstance")
	return allErrs
}

func validateSeries(e *corev1.Event) field.ErrorList {
	if e.Series == nil {
		return nil
	}
	var allErrs field.ErrorList
	if e.Series.Count < 2 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
	}
	if e.Series.LastObservedTime.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("series.lastObservedTime"), ""))
	}
	return allErrs
}

// legacyValidate holds the checks every event passes. Events without an
// eventTime come from old clients and are only checked for a consistent
// namespace.
func legacyValidate(e *corev1.Event, api API) field.ErrorList {
	var allErrs field.ErrorList
	controllerField := "reportingController"
	if api == CoreV1 {
		controllerField = "reportingComponent"
	}
	nsPath := field.NewPath("involvedObject", "namespace")
	if e.EventTime.IsZero() {
		if e.InvolvedObject.Namespace == "" {
			// Old clients put events about cluster-scoped objects in "default".
			if e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault {
				allErrs = append(allErrs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			allErrs = append(allErrs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
	} else {
		if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
			allErrs = append(allErrs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
		if e.ReportingController == "" {
			allErrs = append(allErrs, field.Required(field.NewPath(controllerField), ""))
		}
		for _, msg := range validation.IsQualifiedName(e.ReportingController) {
			allErrs = append(allErrs, field.Invalid(field.NewPath(controllerField), e.ReportingController, msg))
		}
		allErrs = append(allErrs, requiredWithLimit(e.ReportingInstance, "reportingInstance", ReportingInstanceLengthLimit)...)
		allErrs = append(allErrs, requiredWithLimit(e.Action, "action", ActionLengthLimit)...)
		allErrs = append(allErrs, requiredWithLimit(e.Reason, "reason", ReasonLengthLimit)...)
		if len(e.Message) > NoteLengthLimit {
			allErrs = append(allErrs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", NoteLengthLimit)))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(e.Namespace) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("namespace"), e.Namespace, msg))
	}
	return allErrs
}

func requiredWithLimit(v, name string, limit int) field.ErrorList {
	var allErrs field.ErrorList
	if v == "" {
		allErrs = append(allErrs, field.Required(field.NewPath(name), ""))
	}
	if len(v) > limit {
		allErrs = append(allErrs, field.Invalid(field.NewPath(name), "", fmt.Sprintf("can have at most %v characters", limit)))
	}
	return allErrs
}
