package forward

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// fakeUpstream is a DNS server on 127.0.0.1 (UDP and TCP on one port)
// answering from a handler and counting queries per transport.
type fakeUpstream struct {
	addr     string
	udp, tcp atomic.Int32
}

func startUpstream(t *testing.T, h func(net string, req *dns.Msg) *dns.Msg) *fakeUpstream {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatalf("listen tcp: %v", err)
	}
	u := &fakeUpstream{addr: pc.LocalAddr().String()}
	handler := func(netw string) dns.HandlerFunc {
		return func(w dns.ResponseWriter, req *dns.Msg) {
			if netw == "udp" {
				u.udp.Add(1)
			} else {
				u.tcp.Add(1)
			}
			if m := h(netw, req); m != nil {
				_ = w.WriteMsg(m)
			}
		}
	}
	var wg sync.WaitGroup
	servers := []*dns.Server{{PacketConn: pc, Handler: handler("udp")}, {Listener: l, Handler: handler("tcp")}}
	for _, s := range servers {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.ActivateAndServe()
		}()
		<-started
	}
	t.Cleanup(func() {
		for _, s := range servers {
			_ = s.Shutdown()
		}
		wg.Wait()
	})
	return u
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("NewRR(%q): %v", s, err)
	}
	return rr
}

func question(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

func answers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		out = append(out, rr.String())
	}
	return out
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestForwardCache(t *testing.T) {
	up := startUpstream(t, func(_ string, req *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		switch req.Question[0].Name {
		case "www.example.test.":
			m.Answer = []dns.RR{mustRR(t, "www.example.test. 60 IN A 192.0.2.1")}
		default:
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{mustRR(t, "example.test. 300 IN SOA ns.example.test. host.example.test. 1 2 3 4 10")}
		}
		return m
	})
	clk := &clock{now: time.Unix(1000, 0)}
	f, err := New(Config{Upstreams: []string{up.addr}, Now: clk.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := context.Background()

	tests := []struct {
		name       string
		qname      string
		advance    time.Duration
		wantCached bool
		wantRcode  int
		wantAnswer []string
	}{
		{name: "miss", qname: "www.example.test.", wantAnswer: []string{"www.example.test.\t60\tIN\tA\t192.0.2.1"}},
		{name: "hit counts TTL down", qname: "WWW.example.test.", advance: 20 * time.Second, wantCached: true,
			wantAnswer: []string{"www.example.test.\t40\tIN\tA\t192.0.2.1"}},
		{name: "expired", qname: "www.example.test.", advance: 41 * time.Second,
			wantAnswer: []string{"www.example.test.\t60\tIN\tA\t192.0.2.1"}},
		{name: "negative miss", qname: "nope.example.test.", wantRcode: dns.RcodeNameError},
		{name: "negative hit", qname: "nope.example.test.", advance: 9 * time.Second, wantCached: true, wantRcode: dns.RcodeNameError},
		{name: "negative expired after SOA minimum", qname: "nope.example.test.", advance: 2 * time.Second, wantRcode: dns.RcodeNameError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk.Add(tc.advance)
			req := question(tc.qname, dns.TypeA)
			resp, cached, err := f.Forward(ctx, req)
			if err != nil {
				t.Fatalf("Forward: %v", err)
			}
			if cached != tc.wantCached {
				t.Errorf("got cached %v, want %v", cached, tc.wantCached)
			}
			if resp.Id != req.Id {
				t.Errorf("got id %d, want %d", resp.Id, req.Id)
			}
			if resp.Rcode != tc.wantRcode {
				t.Errorf("got rcode %d, want %d", resp.Rcode, tc.wantRcode)
			}
			if d := cmp.Diff(tc.wantAnswer, answers(resp)); d != "" {
				t.Errorf("answer mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestForwardTruncatedRetriesTCP(t *testing.T) {
	up := startUpstream(t, func(netw string, req *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(req)
		if netw == "udp" {
			m.Truncated = true
			return m
		}
		m.Answer = []dns.RR{mustRR(t, "big.example.test. 60 IN A 192.0.2.9")}
		return m
	})
	f, err := New(Config{Upstreams: []string{up.addr}, CacheSize: -1})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	resp, _, err := f.Forward(context.Background(), question("big.example.test.", dns.TypeA))
	if err != nil {
		t.Fatalf("Forward: %v", err)
	}
	if got, want := len(resp.Answer), 1; got != want {
		t.Fatalf("got %d answers, want %d", got, want)
	}
	if got := up.tcp.Load(); got != 1 {
		t.Errorf("got %d TCP queries, want 1", got)
	}
}

func TestForwardServfailWhenUpstreamsFail(t *testing.T) {
	dead := startUpstream(t, func(string, *dns.Msg) *dns.Msg { return nil }) // never answers
	refusing := startUpstream(t, func(_ string, req *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeRefused)
		return m
	})
	f, err := New(Config{Upstreams: []string{dead.addr, refusing.addr}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	resp, _, err := f.Forward(context.Background(), question("x.example.test.", dns.TypeA))
	if err == nil {
		t.Errorf("got no error, want one")
	}
	if resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("got rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
}

func TestNewUpstreams(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("search example.test\nnameserver 127.0.0.1\nnameserver 127.0.0.53\nnameserver 192.0.2.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		want    []string
		wantErr bool
	}{
		{name: "resolv.conf minus ourselves on the wildcard address", cfg: Config{ResolvConf: conf, Self: []string{":53"}},
			want: []string{"192.0.2.53:53"}},
		{name: "resolv.conf minus ourselves", cfg: Config{ResolvConf: conf, Self: []string{"127.0.0.1:53"}},
			want: []string{"127.0.0.53:53", "192.0.2.53:53"}},
		{name: "resolv.conf when we listen elsewhere", cfg: Config{ResolvConf: conf, Self: []string{"127.0.0.1:5353"}},
			want: []string{"127.0.0.1:53", "127.0.0.53:53", "192.0.2.53:53"}},
		{name: "explicit with and without port", cfg: Config{Upstreams: []string{"192.0.2.1", "[2001:db8::1]:5353"}},
			want: []string{"192.0.2.1:53", "[2001:db8::1]:5353"}},
		{name: "only ourselves", cfg: Config{Upstreams: []string{"127.0.0.1:53"}, Self: []string{"127.0.0.1:53"}}, wantErr: true},
		{name: "hostname", cfg: Config{Upstreams: []string{"dns.example.test"}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := New(tc.cfg)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got no error, want one")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if d := cmp.Diff(tc.want, f.Upstreams()); d != "" {
				t.Errorf("upstreams mismatch (-want +got):\n%s", d)
			}
		})
	}
}
