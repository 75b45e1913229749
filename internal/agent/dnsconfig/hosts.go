package dnsconfig

import (
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// maxHostnameLen is the longest hostname the kernel accepts.
const maxHostnameLen = 63

// Hostname returns the pod's hostname and, when it has a subdomain, its
// domain (<subdomain>.<ns>.svc.<clusterDomain>). Without spec.hostname the
// pod name is used, truncated to 63 characters. With setHostnameAsFQDN the
// returned hostname is the fully qualified name.
func Hostname(pod *v1.Pod, clusterDomain string) (hostname, domain string) {
	hostname = pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
		if len(hostname) > maxHostnameLen {
			hostname = strings.TrimRight(hostname[:maxHostnameLen], "-.")
		}
	}
	if pod.Spec.Subdomain != "" {
		domain = fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, strings.TrimSuffix(clusterDomain, "."))
	}
	if pod.Spec.SetHostnameAsFQDN != nil && *pod.Spec.SetHostnameAsFQDN && domain != "" {
		hostname = hostname + "." + domain
	}
	return hostname, domain
}

// Hosts renders the kubelet-managed /etc/hosts of a pod: the localhost
// entries, one line per pod IP naming the pod (FQDN first when it has a
// domain), then the pod's hostAliases.
func Hosts(pod *v1.Pod, podIPs []string, hostname, domain string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	short, _, _ := strings.Cut(hostname, ".")
	for _, ip := range podIPs {
		if domain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, short, domain, short)
			continue
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, ha := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", ha.IP, strings.Join(ha.Hostnames, "\t"))
		}
	}
	return b.String()
}
