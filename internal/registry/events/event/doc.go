// Package event describes the events.k8s.io/v1 events resource. Events
// are validated in their core/v1 form, as upstream does through its
// internal type, with the strict rules of the new API; field selectors use
// the events.k8s.io names (regarding.*, reportingController).
package event
