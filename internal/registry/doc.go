// Package registry describes the resources the API server serves: for each,
// its names (group, version, plural, kind, short names), its Go types, and
// the Strategy that defaults, prepares and validates it as upstream does.
// Per-resource strategies live in sub-packages (registry/core/service,
// registry/apps/deployment, ...); registry/builtin assembles them.
package registry
