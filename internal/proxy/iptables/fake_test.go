package iptables

import (
	"context"
	"strings"
	"testing"
)

func TestFakeRestoreSemantics(t *testing.T) {
	base := "*nat\n:A - [0:0]\n:B - [0:0]\n-A A -j B\n-A B -j RETURN\nCOMMIT\n"
	tests := []struct {
		name    string
		input   string
		wantErr string
		want    string // substring of the nat dump afterwards
	}{
		{name: "declaring flushes", input: "*nat\n:B - [0:0]\n-A B -j ACCEPT\nCOMMIT\n", want: "-A B -j ACCEPT\n"},
		{name: "append to missing chain", input: "*nat\n-A C -j ACCEPT\nCOMMIT\n", wantErr: "no chain C"},
		{name: "jump to missing chain", input: "*nat\n:C - [0:0]\n-A C -j D\nCOMMIT\n", wantErr: "missing chain D"},
		{name: "delete referenced chain", input: "*nat\n:B - [0:0]\n-X B\nCOMMIT\n", wantErr: "missing chain B"},
		{name: "delete after unreferencing", input: "*nat\n:A - [0:0]\n:B - [0:0]\n-X B\nCOMMIT\n", want: ":A - [0:0]\n-A PREROUTING -j A\nCOMMIT"},
		{name: "built-in chains keep rules", input: "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", want: "-A PREROUTING -j A"},
		{name: "missing COMMIT", input: "*nat\n:C - [0:0]\n", wantErr: "without COMMIT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := NewFake()
			if err := f.Restore(ctx, []byte(base)); err != nil {
				t.Fatal(err)
			}
			if err := f.EnsureRule(ctx, tableNAT, "PREROUTING", 1, []string{"-j", "A"}); err != nil {
				t.Fatal(err)
			}
			before := f.Dump()
			err := f.Restore(ctx, []byte(tc.input))
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				if after := f.Dump(); after != before {
					t.Errorf("got tables changed by a failed restore:\n%s", after)
				}
			case err != nil:
				t.Fatalf("Restore: %v", err)
			default:
				if got := f.Dump(); !strings.Contains(got, tc.want) {
					t.Errorf("got tables\n%s\nwant them to contain %q", got, tc.want)
				}
			}
		})
	}
}
