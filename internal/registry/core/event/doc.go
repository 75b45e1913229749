// Package event describes the core/v1 events resource: validation with
// upstream's rules (lenient for core/v1 clients, strict for
// events.k8s.io/v1, which reuses it through conversion), the create/update
// strategy, and the field selectors kubectl uses (involvedObject.*,
// reason, reportingComponent, source, type).
package event
