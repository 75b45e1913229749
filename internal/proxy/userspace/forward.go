package userspace

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Forwarding tuning.
const (
	// dialTimeout bounds one connection attempt to an endpoint.
	dialTimeout = 3 * time.Second
	// dialAttempts is how many endpoints a TCP connection tries before it
	// is closed (an endpoint may be gone before the next sync).
	dialAttempts = 3
	// DefaultUDPIdleTimeout closes a UDP session without traffic; short
	// enough to follow endpoint changes, long enough for DNS retries.
	DefaultUDPIdleTimeout = 30 * time.Second
)

// forwarder is one listening socket and its connections.
type forwarder interface {
	close()
}

// tcpForwarder accepts on one socket and relays to endpoints.
type tcpForwarder struct {
	ln    *net.TCPListener
	bal   *balancer
	log   *slog.Logger
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startTCP(ln *net.TCPListener, bal *balancer, log *slog.Logger) *tcpForwarder {
	f := &tcpForwarder{ln: ln, bal: bal, log: log, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.acceptLoop()
	return f
}

func (f *tcpForwarder) acceptLoop() {
	defer f.wg.Done()
	for {
		c, err := f.ln.AcceptTCP()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				f.log.Error("Stopped accepting", "addr", f.ln.Addr().String(), "err", err)
			}
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(c)
		}()
	}
}

func (f *tcpForwarder) track(c net.Conn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		return false // closed
	}
	if add {
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
	return true
}

func (f *tcpForwarder) serve(client *net.TCPConn) {
	defer client.Close()
	if !f.track(client, true) {
		return
	}
	defer f.track(client, false)
	clientIP := client.RemoteAddr().(*net.TCPAddr).IP.String()
	var tried []string
	var upstream *net.TCPConn
	for range dialAttempts {
		ep := f.bal.pick(clientIP, tried)
		if ep == "" {
			break
		}
		tried = append(tried, ep)
		c, err := net.DialTimeout("tcp4", ep, dialTimeout)
		if err != nil {
			f.log.Debug("Failed to dial endpoint", "endpoint", ep, "err", err)
			continue
		}
		upstream = c.(*net.TCPConn)
		break
	}
	if upstream == nil {
		return
	}
	defer upstream.Close()
	if !f.track(upstream, true) {
		return
	}
	defer f.track(upstream, false)
	done := make(chan struct{})
	go func() {
		relay(upstream, client)
		close(done)
	}()
	relay(client, upstream)
	<-done
}

// relay copies src to dst (splice(2) between TCP sockets on Linux) and then
// half-closes dst, so each direction ends on its own.
func relay(dst, src *net.TCPConn) {
	_, _ = io.Copy(dst, src)
	_ = dst.CloseWrite()
}

func (f *tcpForwarder) close() {
	_ = f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		_ = c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}

// udpForwarder relays datagrams with one upstream socket per client.
type udpForwarder struct {
	conn     *net.UDPConn
	bal      *balancer
	log      *slog.Logger
	idle     time.Duration
	wg       sync.WaitGroup
	mu       sync.Mutex
	sessions map[string]*udpSession
}

type udpSession struct {
	upstream *net.UDPConn
	// lastActive is the UnixNano of the last datagram either way.
	lastActive atomic.Int64
}

func startUDP(conn *net.UDPConn, bal *balancer, idle time.Duration, log *slog.Logger) *udpForwarder {
	f := &udpForwarder{conn: conn, bal: bal, idle: idle, log: log, sessions: map[string]*udpSession{}}
	f.wg.Add(1)
	go f.readLoop()
	return f
}

func (f *udpForwarder) readLoop() {
	defer f.wg.Done()
	buf := make([]byte, 64*1024)
	for {
		n, client, err := f.conn.ReadFromUDP(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				f.log.Error("Stopped reading", "addr", f.conn.LocalAddr().String(), "err", err)
			}
			return
		}
		s := f.session(client)
		if s == nil {
			continue
		}
		s.lastActive.Store(time.Now().UnixNano())
		if _, err := s.upstream.Write(buf[:n]); err != nil {
			f.log.Debug("Failed to forward datagram", "endpoint", s.upstream.RemoteAddr().String(), "err", err)
		}
	}
}

// session returns the client's session, creating it (and its reply
// goroutine) on first use; nil when no endpoint can be reached.
func (f *udpForwarder) session(client *net.UDPAddr) *udpSession {
	key := client.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessions == nil {
		return nil
	}
	if s, ok := f.sessions[key]; ok {
		return s
	}
	ep := f.bal.pick(client.IP.String(), nil)
	if ep == "" {
		return nil
	}
	addr, err := net.ResolveUDPAddr("udp4", ep)
	if err != nil {
		return nil
	}
	up, err := net.DialUDP("udp4", nil, addr)
	if err != nil {
		f.log.Debug("Failed to dial endpoint", "endpoint", ep, "err", err)
		return nil
	}
	s := &udpSession{upstream: up}
	s.lastActive.Store(time.Now().UnixNano())
	f.sessions[key] = s
	f.wg.Add(1)
	go f.replyLoop(key, client, s)
	return s
}

// replyLoop copies the endpoint's replies back to the client until the
// session has been idle for f.idle or the forwarder closes.
func (f *udpForwarder) replyLoop(key string, client *net.UDPAddr, s *udpSession) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		if f.sessions != nil && f.sessions[key] == s {
			delete(f.sessions, key)
		}
		f.mu.Unlock()
		_ = s.upstream.Close()
	}()
	buf := make([]byte, 64*1024)
	for {
		deadline := time.Unix(0, s.lastActive.Load()).Add(f.idle)
		_ = s.upstream.SetReadDeadline(deadline)
		n, err := s.upstream.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Unix(0, s.lastActive.Load()).Add(f.idle).After(time.Now()) {
				continue // the client spoke since the deadline was set
			}
			if errors.As(err, &ne) && ne.Timeout() {
				return // idle
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP port unreachable from the endpoint
		}
		s.lastActive.Store(time.Now().UnixNano())
		if _, err := f.conn.WriteToUDP(buf[:n], client); err != nil {
			return
		}
	}
}

func (f *udpForwarder) close() {
	_ = f.conn.Close()
	f.mu.Lock()
	for _, s := range f.sessions {
		_ = s.upstream.Close()
	}
	f.sessions = nil
	f.mu.Unlock()
	f.wg.Wait()
}
