package crilog

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseLine(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	plus2 := time.FixedZone("", 2*3600)
	tests := []struct {
		name    string
		line    string
		want    Entry
		wantErr bool
	}{
		{name: "full stdout", line: "2024-05-01T10:00:00.123456789Z stdout F hello world\n",
			want: Entry{Time: t0, Stream: Stdout, Content: []byte("hello world")}},
		{name: "partial stderr", line: "2024-05-01T10:00:00.123456789Z stderr P part",
			want: Entry{Time: t0, Stream: Stderr, Partial: true, Content: []byte("part")}},
		{name: "content keeps spaces", line: "2024-05-01T10:00:00.123456789Z stdout F  a  b \n",
			want: Entry{Time: t0, Stream: Stdout, Content: []byte(" a  b ")}},
		{name: "empty content", line: "2024-05-01T10:00:00.123456789Z stdout F \n",
			want: Entry{Time: t0, Stream: Stdout, Content: []byte{}}},
		{name: "empty content without delimiter", line: "2024-05-01T10:00:00.123456789Z stdout F\n",
			want: Entry{Time: t0, Stream: Stdout, Content: []byte{}}},
		{name: "extra tags", line: "2024-05-01T10:00:00.123456789Z stdout P:x:y z\n",
			want: Entry{Time: t0, Stream: Stdout, Partial: true, Content: []byte("z")}},
		{name: "offset and no fraction", line: "2024-05-01T12:00:00+02:00 stdout F x",
			want: Entry{Time: time.Date(2024, 5, 1, 12, 0, 0, 0, plus2), Stream: Stdout, Content: []byte("x")}},
		{name: "carriage return is content", line: "2024-05-01T10:00:00.123456789Z stdout F x\r\n",
			want: Entry{Time: t0, Stream: Stdout, Content: []byte("x\r")}},
		{name: "empty", line: "", wantErr: true},
		{name: "newline only", line: "\n", wantErr: true},
		{name: "no stream", line: "2024-05-01T10:00:00Z", wantErr: true},
		{name: "no tag", line: "2024-05-01T10:00:00Z stdout", wantErr: true},
		{name: "bad time", line: "yesterday stdout F x", wantErr: true},
		{name: "bad stream", line: "2024-05-01T10:00:00Z stdin F x", wantErr: true},
		{name: "bad tag", line: "2024-05-01T10:00:00Z stdout X x", wantErr: true},
		{name: "empty tag", line: "2024-05-01T10:00:00Z stdout  x", wantErr: true},
		{name: "plain text", line: "hello world\n", wantErr: true},
		{name: "docker json", line: `{"log":"x\n","stream":"stdout","time":"2024-05-01T10:00:00Z"}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLine([]byte(tc.line))
			if tc.wantErr {
				if !IsMalformed(err) {
					t.Fatalf("got err %v, want a malformed-line error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got err %v", err)
			}
			if !got.Time.Equal(tc.want.Time) {
				t.Errorf("got time %v, want %v", got.Time, tc.want.Time)
			}
			_, gotOff := got.Time.Zone()
			_, wantOff := tc.want.Time.Zone()
			if gotOff != wantOff {
				t.Errorf("got zone offset %d, want %d", gotOff, wantOff)
			}
			got.Time, tc.want.Time = time.Time{}, time.Time{}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("entry (-want +got):\n%s", diff)
			}
		})
	}
}
