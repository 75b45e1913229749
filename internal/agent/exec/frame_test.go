package exec

import (
	"errors"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		want    Options
		wantErr error
	}{
		{"kubectl exec", "command=printenv&stdin=false&stdout=true&stderr=true&tty=false",
			Options{Command: []string{"printenv"}, Stdout: true, Stderr: true}, nil},
		{"argv in order", "command=sh&command=-c&command=exit+3&stdout=1",
			Options{Command: []string{"sh", "-c", "exit 3"}, Stdout: true}, nil},
		{"tty folds stderr into stdout", "command=sh&stdin=true&stdout=true&stderr=true&tty=true",
			Options{Command: []string{"sh"}, Stdin: true, Stdout: true, TTY: true}, nil},
		{"no command", "stdout=true", Options{}, ErrNoCommand},
		{"no stream", "command=true&tty=true", Options{}, ErrNoStreams},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseOptions(q)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
			back, err := ParseOptions(got.Query())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, back); diff != "" {
				t.Errorf("Query round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFrame(t *testing.T) {
	tests := []struct {
		name     string
		msg      []byte
		wantCh   byte
		wantData []byte
		wantErr  bool
	}{
		{"stdin data", []byte{0, 'h', 'i'}, ChannelStdin, []byte("hi"), false},
		{"empty stdout", []byte{1}, ChannelStdout, []byte{}, false},
		{"close stdin (v5)", []byte{255, 0}, ChannelClose, []byte{0}, false},
		{"resize", append([]byte{4}, `{"Width":80,"Height":24}`...), ChannelResize, []byte(`{"Width":80,"Height":24}`), false},
		{"empty message", nil, 0, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, data, err := ParseFrame(tc.msg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if ch != tc.wantCh || string(data) != string(tc.wantData) {
				t.Errorf("got channel %d data %q, want %d %q", ch, data, tc.wantCh, tc.wantData)
			}
			if got := Frame(ch, data); string(got) != string(tc.msg) {
				t.Errorf("Frame: got %v, want %v", got, tc.msg)
			}
		})
	}
}

func TestParseResize(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    TerminalSize
		wantErr bool
	}{
		{"client-go encoding", "{\"Width\":120,\"Height\":40}\n", TerminalSize{Width: 120, Height: 40}, false},
		{"garbage", "80x24", TerminalSize{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseResize([]byte(tc.data))
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSelectProtocol(t *testing.T) {
	tests := []struct {
		name    string
		offered []string
		want    string
	}{
		{"kubectl 1.33", []string{ProtocolV5}, ProtocolV5},
		{"prefers v5", []string{ProtocolV4, ProtocolV5}, ProtocolV5},
		{"v4 only", []string{ProtocolV4}, ProtocolV4},
		{"base64 and v1 unsupported", []string{"base64.channel.k8s.io", "channel.k8s.io"}, ""},
		{"none", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SelectProtocol(tc.offered); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name string
		code int
		err  error
		want metav1.Status
	}{
		{"success", 0, nil, metav1.Status{Status: metav1.StatusSuccess}},
		{"non-zero", 3, nil, metav1.Status{Status: metav1.StatusFailure, Reason: ReasonNonZeroExitCode,
			Message: "command terminated with non-zero exit code: exit status 3",
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: CauseExitCode, Message: "3"}}}}},
		{"not run", -1, errors.New("no such file"), metav1.Status{Status: metav1.StatusFailure, Code: 500,
			Reason:  metav1.StatusReasonInternalError,
			Message: "Internal error occurred: error executing command in container: no such file",
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
				Message: "error executing command in container: no such file"}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ExitStatus(tc.code, tc.err)); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}
