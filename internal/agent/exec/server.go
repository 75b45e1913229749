package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// maxChunk bounds one output message: client-go reads with a 32 KiB
	// buffer (plus room for the channel byte).
	maxChunk = 32 * 1024
	// closeWait is how long to wait for the client's answer to our close
	// frame before dropping the connection.
	closeWait = 2 * time.Second
	// resizeQueue holds resize events the command has not taken yet; older
	// ones are dropped when it is full, as only the last size matters.
	resizeQueue = 4
)

// ErrNotWebSocket is returned by Serve for a request that is not a
// WebSocket upgrade offering a supported protocol (SPDY clients).
var ErrNotWebSocket = errors.New("remote command requires a WebSocket upgrade with " + ProtocolV5 + " or " + ProtocolV4)

// Streams connect the command to the client. Unrequested streams are nil.
type Streams struct {
	// Stdin is the read end of a pipe the client's input is written to,
	// an *os.File so a child process can be given it directly. It reaches
	// end of file when the client closes stdin (v5) or goes away.
	Stdin *os.File
	// Stdout and Stderr send to the client; with a TTY only Stdout is set.
	Stdout, Stderr io.Writer
	// Resize delivers the client's terminal sizes (TTY only).
	Resize <-chan TerminalSize
}

// Runner runs the command with s until it ends, or until ctx ends (the
// client went away), and returns its exit code, or an error when it could
// not be run.
type Runner func(ctx context.Context, s Streams) (int, error)

// Serve upgrades r to a WebSocket, runs the command with run and reports
// its end on the error channel before a normal closure. It returns
// ErrNotWebSocket (having written nothing) for a request it cannot
// upgrade, another error if the upgrade failed (gorilla has answered), or
// nil once the session is over.
func Serve(w http.ResponseWriter, r *http.Request, opts Options, run Runner) error {
	proto := SelectProtocol(websocket.Subprotocols(r))
	if !websocket.IsWebSocketUpgrade(r) || proto == "" {
		return ErrNotWebSocket
	}
	up := websocket.Upgrader{ReadBufferSize: maxChunk + 1024, WriteBufferSize: maxChunk + 1024}
	conn, err := up.Upgrade(w, r, http.Header{"Sec-Websocket-Protocol": {proto}})
	if err != nil {
		return fmt.Errorf("upgrading to websocket: %w", err)
	}
	defer conn.Close()
	s := &session{conn: conn, v5: proto == ProtocolV5}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()

	var streams Streams
	var stdinW *os.File
	if opts.Stdin {
		pr, pw, err := os.Pipe()
		if err != nil {
			s.finish(ExitStatus(-1, fmt.Errorf("creating stdin pipe: %w", err)), nil)
			return nil
		}
		defer pr.Close()
		streams.Stdin, stdinW = pr, pw
	}
	if opts.Stdout {
		streams.Stdout = &channelWriter{s: s, ch: ChannelStdout}
	}
	if opts.Stderr && !opts.TTY {
		streams.Stderr = &channelWriter{s: s, ch: ChannelStderr}
	}
	var resize chan TerminalSize
	if opts.TTY {
		resize = make(chan TerminalSize, resizeQueue)
		streams.Resize = resize
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.readLoop(stdinW, resize)
		cancel()
	}()
	code, runErr := run(ctx, streams)
	s.closeStdin(stdinW)
	s.finish(ExitStatus(code, runErr), readerDone)
	return nil
}

type session struct {
	conn *websocket.Conn
	v5   bool

	wmu       sync.Mutex
	stdinOnce sync.Once
}

func (s *session) write(ch byte, p []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.conn.WriteMessage(websocket.BinaryMessage, Frame(ch, p))
}

func (s *session) closeStdin(w *os.File) {
	if w != nil {
		s.stdinOnce.Do(func() { _ = w.Close() })
	}
}

// readLoop demultiplexes the client's messages until the connection ends.
// Reading also answers the client's pings.
func (s *session) readLoop(stdin *os.File, resize chan TerminalSize) {
	defer s.closeStdin(stdin)
	for {
		typ, msg, err := s.conn.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.BinaryMessage {
			continue
		}
		ch, data, err := ParseFrame(msg)
		if err != nil {
			continue
		}
		switch ch {
		case ChannelStdin:
			if stdin != nil && len(data) > 0 {
				if _, err := stdin.Write(data); err != nil {
					// The command closed its input; drop what follows.
					s.closeStdin(stdin)
					stdin = nil
				}
			}
		case ChannelResize:
			if resize == nil {
				continue
			}
			if size, err := ParseResize(data); err == nil {
				queueResize(resize, size)
			}
		case ChannelClose:
			if s.v5 && len(data) > 0 && data[0] == ChannelStdin {
				s.closeStdin(stdin)
			}
		}
	}
}

// queueResize adds size to q, dropping the oldest queued size when full.
func queueResize(q chan TerminalSize, size TerminalSize) {
	for {
		select {
		case q <- size:
			return
		default:
		}
		select {
		case <-q:
		default:
		}
	}
}

// finish sends the final status and a normal closure, then waits a little
// for the client's close frame (readerDone) so it reads everything sent.
func (s *session) finish(st any, readerDone <-chan struct{}) {
	b, err := json.Marshal(st)
	if err == nil {
		_ = s.write(ChannelError, b)
	}
	s.wmu.Lock()
	_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(closeWait))
	s.wmu.Unlock()
	if readerDone == nil {
		return
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-readerDone:
	case <-t.C:
	}
}

// channelWriter sends what is written to it on one channel.
type channelWriter struct {
	s  *session
	ch byte
}

func (c *channelWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), maxChunk)]
		if err := c.s.write(c.ch, chunk); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}
