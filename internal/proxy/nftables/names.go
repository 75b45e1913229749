package nftables

import (
	"crypto/sha256"
	"encoding/base32"
	"strconv"
	"strings"

	"github.com/svcnet/svcnet/internal/proxy"
)

// Per-service object name prefixes; anything in the table carrying one of
// them and not wanted by the current state is deleted on a full sync.
const (
	servicePrefix  = "service-"
	externalPrefix = "external-"
	endpointPrefix = "endpoint-"
	affinityPrefix = "affinity-"
	firewallPrefix = "firewall-"
)

func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(sum[:])[:8]
}

// portBase is "<ns>/<name>/<proto>/<port name>", the readable part of names.
func portBase(spn proxy.ServicePortName) string {
	return spn.Namespace + "/" + spn.Name + "/" + strings.ToLower(string(spn.Protocol)) + "/" + spn.Port
}

func serviceChainName(spn proxy.ServicePortName) string {
	return servicePrefix + hash8(spn.String()+string(spn.Protocol)) + "-" + portBase(spn)
}

func externalChainName(spn proxy.ServicePortName) string {
	return externalPrefix + hash8(spn.String()+string(spn.Protocol)) + "-" + portBase(spn)
}

func firewallChainName(spn proxy.ServicePortName) string {
	return firewallPrefix + hash8(spn.String()+string(spn.Protocol)) + "-" + portBase(spn)
}

func endpointSuffix(ep proxy.Endpoint) string {
	return ep.IP + "/" + strconv.Itoa(int(ep.Port))
}

func endpointChainName(spn proxy.ServicePortName, ep proxy.Endpoint) string {
	return endpointPrefix + hash8(spn.String()+string(spn.Protocol)+ep.String()) + "-" + portBase(spn) + "__" + endpointSuffix(ep)
}

// affinitySetName includes the timeout in its hash so that a changed
// timeout yields a new set (nft cannot change a set's timeout in place).
func affinitySetName(spn proxy.ServicePortName, ep proxy.Endpoint, timeout int32) string {
	return affinityPrefix + hash8(spn.String()+string(spn.Protocol)+ep.String()+"/"+strconv.Itoa(int(timeout))) +
		"-" + portBase(spn) + "__" + endpointSuffix(ep)
}

func isServiceObject(name string) bool {
	for _, p := range []string{servicePrefix, externalPrefix, endpointPrefix, affinityPrefix, firewallPrefix} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
