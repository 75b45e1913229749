package dnsconfig

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Limits kubelet applies to the resolver configuration it produces; glibc
// ignores nameservers past the third.
const (
	MaxNameservers   = 3
	MaxSearchPaths   = 32
	MaxSearchChars   = 2048
	defaultNdotsOpts = "ndots:5"
)

// ResolvConf is the content of a resolv.conf file.
type ResolvConf struct {
	Nameservers []string
	Searches    []string
	Options     []string
}

// ParseResolvConf reads nameserver, search/domain and options lines; other
// lines and comments are ignored. A later search or domain line replaces an
// earlier one, as in glibc.
func ParseResolvConf(r io.Reader) (ResolvConf, error) {
	var rc ResolvConf
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				rc.Nameservers = append(rc.Nameservers, f[1])
			}
		case "domain", "search":
			rc.Searches = nil
			for _, s := range f[1:] {
				if s = strings.TrimSuffix(s, "."); s != "" {
					rc.Searches = append(rc.Searches, s)
				}
			}
		case "options":
			rc.Options = append(rc.Options, f[1:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return ResolvConf{}, fmt.Errorf("reading resolv.conf: %w", err)
	}
	return rc, nil
}

// String renders the file: search, nameserver and options lines.
func (rc ResolvConf) String() string {
	var b strings.Builder
	if len(rc.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.Searches, " "))
	}
	for _, ns := range rc.Nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(rc.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.Options, " "))
	}
	return b.String()
}

// Config holds the node-wide inputs of the pod resolver configuration.
type Config struct {
	// ClusterDNS are the cluster DNS server IPs; empty makes ClusterFirst
	// fall back to Default, as kubelet does.
	ClusterDNS []string
	// ClusterDomain is the cluster's DNS domain, e.g. cluster.local.
	ClusterDomain string
	// Host is the node's own resolver configuration.
	Host ResolvConf
}

// ForPod returns the resolver configuration of a pod.
func ForPod(cfg Config, pod *v1.Pod) ResolvConf {
	var rc ResolvConf
	switch effectivePolicy(cfg, pod) {
	case v1.DNSNone:
	case v1.DNSClusterFirst:
		rc.Nameservers = append([]string(nil), cfg.ClusterDNS...)
		domain := strings.TrimSuffix(cfg.ClusterDomain, ".")
		if domain != "" {
			rc.Searches = []string{pod.Namespace + ".svc." + domain, "svc." + domain, domain}
		}
		rc.Searches = append(rc.Searches, cfg.Host.Searches...)
		rc.Options = []string{defaultNdotsOpts}
	default:
		rc.Nameservers = append([]string(nil), cfg.Host.Nameservers...)
		rc.Searches = append([]string(nil), cfg.Host.Searches...)
		rc.Options = append([]string(nil), cfg.Host.Options...)
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		rc.Nameservers = append(rc.Nameservers, dc.Nameservers...)
		rc.Searches = append(rc.Searches, dc.Searches...)
		rc.Options = mergeOptions(rc.Options, dc.Options)
	}
	rc.Nameservers = dedup(rc.Nameservers)
	if len(rc.Nameservers) > MaxNameservers {
		rc.Nameservers = rc.Nameservers[:MaxNameservers]
	}
	rc.Searches = trimSearches(dedup(rc.Searches))
	return rc
}

// effectivePolicy resolves the pod's policy into ClusterFirst, Default or
// None following kubelet: ClusterFirst on hostNetwork means Default, and
// ClusterFirst without cluster DNS falls back to Default.
func effectivePolicy(cfg Config, pod *v1.Pod) v1.DNSPolicy {
	p := pod.Spec.DNSPolicy
	switch p {
	case v1.DNSNone, v1.DNSDefault:
		return p
	case v1.DNSClusterFirstWithHostNet:
		p = v1.DNSClusterFirst
	case v1.DNSClusterFirst, "":
		if pod.Spec.HostNetwork {
			return v1.DNSDefault
		}
		p = v1.DNSClusterFirst
	}
	if len(cfg.ClusterDNS) == 0 {
		return v1.DNSDefault
	}
	return p
}

// mergeOptions overlays pod options on base ones by option name, keeping
// first-seen order.
func mergeOptions(base []string, extra []v1.PodDNSConfigOption) []string {
	var names []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, o := range base {
		name, value, _ := strings.Cut(o, ":")
		set(name, value)
	}
	for _, o := range extra {
		value := ""
		if o.Value != nil {
			value = *o.Value
		}
		set(o.Name, value)
	}
	var out []string
	for _, n := range names {
		if values[n] == "" {
			out = append(out, n)
			continue
		}
		out = append(out, n+":"+values[n])
	}
	return out
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// trimSearches drops trailing search domains beyond the path and length
// limits.
func trimSearches(in []string) []string {
	if len(in) > MaxSearchPaths {
		in = in[:MaxSearchPaths]
	}
	for len(in) > 0 && len(strings.Join(in, " ")) > MaxSearchChars {
		in = in[:len(in)-1]
	}
	return in
}
