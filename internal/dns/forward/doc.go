// Package forward sends questions for names outside the cluster domain to
// upstream resolvers (by default the host's /etc/resolv.conf nameservers),
// over UDP with a TCP retry on truncation, and keeps a bounded cache of
// positive and negative answers that honours their TTLs.
package forward
