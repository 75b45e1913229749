// Package dnsconfig renders a pod's /etc/resolv.conf (per dnsPolicy and
// dnsConfig, as kubelet computes it) and its managed /etc/hosts file.
package dnsconfig
