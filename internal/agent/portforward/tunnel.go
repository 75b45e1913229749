package portforward

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// tunnel is a net.Conn over a WebSocket whose binary messages carry the
// bytes of a SPDY connection, in order, without framing of their own.
type tunnel struct {
	ws *websocket.Conn
	// rmu guards cur, the message being read; wmu serialises writers
	// (gorilla allows one at a time).
	rmu       sync.Mutex
	cur       io.Reader
	wmu       sync.Mutex
	closeOnce sync.Once
}

var _ net.Conn = (*tunnel)(nil)

func (t *tunnel) Read(p []byte) (int, error) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	for {
		if t.cur == nil {
			typ, r, err := t.ws.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure {
					return 0, io.EOF
				}
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, fmt.Errorf("tunnel: got websocket message type %d, want binary", typ)
			}
			t.cur = r
		}
		n, err := t.cur.Read(p)
		if errors.Is(err, io.EOF) {
			t.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (t *tunnel) Write(p []byte) (int, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if err := t.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// closeWait bounds the wait for sending our close frame to a client that
// stopped reading.
const closeWait = time.Second

func (t *tunnel) Close() error {
	var err error
	t.closeOnce.Do(func() {
		_ = t.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeWait))
		err = t.ws.Close()
	})
	return err
}

func (t *tunnel) LocalAddr() net.Addr  { return t.ws.LocalAddr() }
func (t *tunnel) RemoteAddr() net.Addr { return t.ws.RemoteAddr() }

func (t *tunnel) SetDeadline(d time.Time) error {
	return errors.Join(t.ws.SetReadDeadline(d), t.ws.SetWriteDeadline(d))
}
func (t *tunnel) SetReadDeadline(d time.Time) error  { return t.ws.SetReadDeadline(d) }
func (t *tunnel) SetWriteDeadline(d time.Time) error { return t.ws.SetWriteDeadline(d) }
