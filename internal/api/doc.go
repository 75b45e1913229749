// Package api builds the runtime.Scheme of every API group svcnet serves
// (core/v1, apps/v1, discovery.k8s.io/v1, coordination.k8s.io/v1,
// events.k8s.io/v1, networking.k8s.io/v1, plus meta.k8s.io/v1 for Table,
// Status and WatchEvent) and the codecs over it.
package api
