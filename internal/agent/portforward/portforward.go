package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
)

// Protocol names, as kubelet and client-go spell them.
const (
	// Protocol is the only port-forward protocol version (v1).
	Protocol = "portforward.k8s.io"
	// TunnelProtocol is the WebSocket subprotocol carrying a SPDY
	// connection of Protocol.
	TunnelProtocol = "SPDY/3.1+" + Protocol
)

// Stream headers set by the client on every stream.
const (
	headerStreamType = "streamType"
	headerPort       = "port"
	headerRequestID  = "requestID"
	streamTypeError  = "error"
	streamTypeData   = "data"
)

// Defaults of Config, kubelet's values.
const (
	// DefaultStreamCreationTimeout bounds the wait for the second stream
	// of a pair.
	DefaultStreamCreationTimeout = 30 * time.Second
	// DefaultIdleTimeout closes a connection that carried nothing for that
	// long.
	DefaultIdleTimeout = 4 * time.Hour
	// tunnelBuffer is the WebSocket buffer size of a tunnelled connection.
	tunnelBuffer = 32 * 1024
)

// ErrNotUpgrade is returned by Serve for a request that asks for neither
// a SPDY upgrade nor a WebSocket tunnel of Protocol; nothing was written.
var ErrNotUpgrade = errors.New("port forwarding requires an upgrade to " + spdy.HeaderSpdy31 +
	" or a WebSocket with subprotocol " + TunnelProtocol)

// Dialer connects to port inside the pod.
type Dialer func(ctx context.Context, port uint16) (net.Conn, error)

// Config is one port-forward session.
type Config struct {
	// Dial opens the connections to the pod. Required.
	Dial Dialer
	// Pod names the pod in error messages sent to the client.
	Pod string
	// StreamCreationTimeout and IdleTimeout default to
	// DefaultStreamCreationTimeout and DefaultIdleTimeout.
	StreamCreationTimeout time.Duration
	IdleTimeout           time.Duration
	Logger                *slog.Logger
}

// Serve upgrades r (SPDY upgrade or WebSocket tunnel) and forwards the
// client's streams until the connection closes or r's context ends. It
// returns ErrNotUpgrade without writing anything when r is neither, another
// error when the upgrade failed (an answer has been written), or nil once
// the session is over.
func Serve(w http.ResponseWriter, r *http.Request, cfg Config) error {
	if cfg.StreamCreationTimeout <= 0 {
		cfg.StreamCreationTimeout = DefaultStreamCreationTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	streams := make(chan httpstream.Stream, 8)
	onStream := func(s httpstream.Stream, _ <-chan struct{}) error {
		streams <- s
		return nil
	}
	var conn httpstream.Connection
	switch {
	case websocket.IsWebSocketUpgrade(r):
		if !offers(websocket.Subprotocols(r), TunnelProtocol) {
			return ErrNotUpgrade
		}
		up := websocket.Upgrader{ReadBufferSize: tunnelBuffer, WriteBufferSize: tunnelBuffer}
		ws, err := up.Upgrade(w, r, http.Header{"Sec-Websocket-Protocol": {TunnelProtocol}})
		if err != nil {
			return fmt.Errorf("upgrading to websocket: %w", err)
		}
		conn, err = spdy.NewServerConnection(&tunnel{ws: ws}, onStream)
		if err != nil {
			ws.Close()
			return fmt.Errorf("starting tunnelled SPDY connection: %w", err)
		}
	case httpstream.IsUpgradeRequest(r):
		if _, err := httpstream.Handshake(r, w, []string{Protocol}); err != nil {
			return err
		}
		conn = spdy.NewResponseUpgrader().UpgradeResponse(w, r, onStream)
		if conn == nil {
			return errors.New("upgrading to SPDY failed")
		}
	default:
		return ErrNotUpgrade
	}
	defer conn.Close()
	conn.SetIdleTimeout(cfg.IdleTimeout)
	s := &session{cfg: cfg, conn: conn, pairs: map[string]*pair{}}
	s.run(r.Context(), streams)
	return nil
}

func offers(protocols []string, want string) bool {
	for _, p := range protocols {
		if p == want {
			return true
		}
	}
	return false
}

// session pairs the streams of one connection and forwards each pair.
type session struct {
	cfg   Config
	conn  httpstream.Connection
	mu    sync.Mutex
	pairs map[string]*pair
	wg    sync.WaitGroup
}

// pair is the error and data stream of one forwarded connection.
type pair struct {
	id       string
	port     string
	errorS   httpstream.Stream
	dataS    httpstream.Stream
	complete chan struct{}
}

func (s *session) run(ctx context.Context, streams <-chan httpstream.Stream) {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		s.wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.conn.CloseChan():
			return
		case st := <-streams:
			s.add(ctx, st)
		}
	}
}

// requestID identifies the pair of st: the requestID header, or for
// clients that send none, the identifier of the error stream (the data
// stream is created right after it, two identifiers on).
func requestID(st httpstream.Stream) string {
	if id := st.Headers().Get(headerRequestID); id != "" {
		return id
	}
	id := st.Identifier()
	if st.Headers().Get(headerStreamType) == streamTypeData {
		id -= 2
	}
	return strconv.FormatUint(uint64(id), 10)
}

// add files st under its pair and starts forwarding once the pair is
// complete.
func (s *session) add(ctx context.Context, st httpstream.Stream) {
	id := requestID(st)
	s.mu.Lock()
	p, ok := s.pairs[id]
	if !ok {
		p = &pair{id: id, complete: make(chan struct{})}
		s.pairs[id] = p
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.await(ctx, p)
		}()
	}
	switch st.Headers().Get(headerStreamType) {
	case streamTypeError:
		if p.errorS == nil {
			p.errorS = st
		} else {
			_ = st.Reset()
		}
	case streamTypeData:
		if p.dataS == nil {
			p.dataS = st
			p.port = st.Headers().Get(headerPort)
		} else {
			_ = st.Reset()
		}
	default:
		s.cfg.Logger.Warn("Rejected port-forward stream", "streamType", st.Headers().Get(headerStreamType))
		_ = st.Reset()
	}
	full := p.errorS != nil && p.dataS != nil
	s.mu.Unlock()
	if full {
		close(p.complete)
	}
}

// await waits for p to be complete, then forwards it.
func (s *session) await(ctx context.Context, p *pair) {
	t := time.NewTimer(s.cfg.StreamCreationTimeout)
	defer t.Stop()
	defer func() {
		s.mu.Lock()
		delete(s.pairs, p.id)
		s.mu.Unlock()
	}()
	select {
	case <-p.complete:
	case <-t.C:
		s.mu.Lock()
		errS, dataS := p.errorS, p.dataS
		s.mu.Unlock()
		if errS != nil {
			_, _ = fmt.Fprintf(errS, "timed out waiting for the data stream of request %s", p.id)
			_ = errS.Close()
		}
		for _, st := range []httpstream.Stream{errS, dataS} {
			if st != nil {
				_ = st.Reset()
				s.conn.RemoveStreams(st)
			}
		}
		return
	case <-ctx.Done():
		return
	}
	err := s.forward(ctx, p)
	if err != nil {
		msg := fmt.Sprintf("error forwarding port %s to pod %s: %v", p.port, s.cfg.Pod, err)
		s.cfg.Logger.Info("Failed forwarding port", "port", p.port, "pod", s.cfg.Pod, "err", err)
		_, _ = io.WriteString(p.errorS, msg)
	}
	_ = p.errorS.Close()
	s.conn.RemoveStreams(p.errorS, p.dataS)
}

// forward splices the data stream of p to a new connection to its port.
func (s *session) forward(ctx context.Context, p *pair) error {
	defer p.dataS.Close()
	port, err := strconv.ParseUint(p.port, 10, 16)
	if err != nil || port == 0 {
		return fmt.Errorf("invalid port %q", p.port)
	}
	c, err := s.cfg.Dial(ctx, uint16(port))
	if err != nil {
		return err
	}
	defer c.Close()
	go func() {
		// Client to pod; the client closing its side half-closes ours.
		_, _ = io.Copy(c, p.dataS)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = c.Close()
		}
	}()
	down := make(chan error, 1)
	go func() {
		_, err := io.Copy(p.dataS, c)
		down <- err
	}()
	select {
	case err = <-down:
	case <-ctx.Done():
		_ = c.Close()
		<-down
	}
	// The pod is done. The client waits for both streams to end before it
	// closes its side (client-go reads the error stream to its end), so the
	// copy towards the pod is not waited for: it ends with the stream.
	_ = c.Close()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("copying from pod: %w", err)
	}
	return nil
}
