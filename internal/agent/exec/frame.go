package exec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Protocol names, in the server's order of preference.
const (
	ProtocolV5 = "v5.channel.k8s.io"
	ProtocolV4 = "v4.channel.k8s.io"
)

// Channels: the first byte of every message.
const (
	ChannelStdin  byte = 0
	ChannelStdout byte = 1
	ChannelStderr byte = 2
	ChannelError  byte = 3
	ChannelResize byte = 4
	// ChannelClose (v5) carries the number of a channel the client will
	// write no more to: stdin's end of file.
	ChannelClose byte = 255
)

// Status reasons and cause types of the error channel.
const (
	ReasonNonZeroExitCode = metav1.StatusReason("NonZeroExitCode")
	CauseExitCode         = metav1.CauseType("ExitCode")
)

// TerminalSize is the JSON body of a resize message.
type TerminalSize struct {
	Width  uint16
	Height uint16
}

// Frame returns the message carrying data on channel ch.
func Frame(ch byte, data []byte) []byte {
	return append([]byte{ch}, data...)
}

// ParseFrame splits a message into its channel and payload.
func ParseFrame(msg []byte) (byte, []byte, error) {
	if len(msg) == 0 {
		return 0, nil, errors.New("empty message")
	}
	return msg[0], msg[1:], nil
}

// ParseResize decodes the payload of a resize message.
func ParseResize(data []byte) (TerminalSize, error) {
	var s TerminalSize
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("decoding terminal size: %w", err)
	}
	return s, nil
}

// SelectProtocol returns the protocol to answer a client offering
// offered, or "" when none is supported. v4 is accepted too since its
// framing is the same; it only lacks the close channel.
func SelectProtocol(offered []string) string {
	for _, want := range []string{ProtocolV5, ProtocolV4} {
		for _, p := range offered {
			if p == want {
				return want
			}
		}
	}
	return ""
}

// ExitStatus is the Status the error channel carries once the command
// ended: Success for exit code 0, Failure with reason NonZeroExitCode and
// an ExitCode cause otherwise, or an internal error when the command could
// not be run (err != nil).
func ExitStatus(code int, err error) metav1.Status {
	switch {
	case err != nil:
		msg := "error executing command in container: " + err.Error()
		return metav1.Status{Status: metav1.StatusFailure, Code: 500, Reason: metav1.StatusReasonInternalError,
			Message: "Internal error occurred: " + msg,
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Message: msg}}}}
	case code == 0:
		return metav1.Status{Status: metav1.StatusSuccess}
	default:
		return metav1.Status{Status: metav1.StatusFailure, Reason: ReasonNonZeroExitCode,
			Message: fmt.Sprintf("command terminated with non-zero exit code: exit status %d", code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: CauseExitCode, Message: strconv.Itoa(code)}}}}
	}
}
