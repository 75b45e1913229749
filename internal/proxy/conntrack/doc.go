// Package conntrack deletes stale UDP connection-tracking entries after the
// service proxy removes an endpoint, by running the conntrack(8) CLI. Fake is
// an in-memory table with the same matching rules, for tests.
package conntrack
