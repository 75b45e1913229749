// Package cni writes the CNI network configuration a node's container
// runtime uses to give pods their network: one conflist in the runtime's
// configuration directory that puts each pod on a Linux bridge with an
// address from the node's podCIDR (bridge and host-local), and maps host
// ports (portmap). The runtime reads the file itself; containerd also needs
// the loopback plugin, which it runs on its own for each pod's lo, so
// FindBinDir looks for that one too although the conflist does not name it.
package cni
