package announce

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
)

// ARP operations.
const (
	arpRequest = 1
	arpReply   = 2
)

// arpPacket is an Ethernet/IPv4 ARP packet (RFC 826).
type arpPacket struct {
	Op        uint16
	SenderMAC net.HardwareAddr
	SenderIP  netip.Addr
	TargetMAC net.HardwareAddr
	TargetIP  netip.Addr
}

const arpLen = 28

// parseARP decodes the ARP payload of an Ethernet frame (without the
// Ethernet header).
func parseARP(b []byte) (arpPacket, error) {
	if len(b) < arpLen {
		return arpPacket{}, errors.New("short ARP packet")
	}
	if binary.BigEndian.Uint16(b[0:2]) != 1 || binary.BigEndian.Uint16(b[2:4]) != 0x0800 || b[4] != 6 || b[5] != 4 {
		return arpPacket{}, errors.New("not an Ethernet/IPv4 ARP packet")
	}
	return arpPacket{
		Op:        binary.BigEndian.Uint16(b[6:8]),
		SenderMAC: net.HardwareAddr(append([]byte(nil), b[8:14]...)),
		SenderIP:  netip.AddrFrom4([4]byte(b[14:18])),
		TargetMAC: net.HardwareAddr(append([]byte(nil), b[18:24]...)),
		TargetIP:  netip.AddrFrom4([4]byte(b[24:28])),
	}, nil
}

// marshal encodes the packet as an ARP payload.
func (p arpPacket) marshal() []byte {
	b := make([]byte, arpLen)
	binary.BigEndian.PutUint16(b[0:2], 1)      // Ethernet
	binary.BigEndian.PutUint16(b[2:4], 0x0800) // IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:8], p.Op)
	copy(b[8:14], p.SenderMAC)
	s4, t4 := p.SenderIP.As4(), p.TargetIP.As4()
	copy(b[14:18], s4[:])
	copy(b[18:24], p.TargetMAC)
	copy(b[24:28], t4[:])
	return b
}

// reply answers request for ip with mac.
func reply(request arpPacket, mac net.HardwareAddr) arpPacket {
	return arpPacket{Op: arpReply, SenderMAC: mac, SenderIP: request.TargetIP,
		TargetMAC: request.SenderMAC, TargetIP: request.SenderIP}
}

// gratuitous announces that ip is at mac (a broadcast ARP reply whose
// sender and target are both ip).
func gratuitous(ip netip.Addr, mac net.HardwareAddr) arpPacket {
	return arpPacket{Op: arpReply, SenderMAC: mac, SenderIP: ip, TargetMAC: broadcastMAC, TargetIP: ip}
}

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
