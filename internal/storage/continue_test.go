package storage

import "testing"

func TestContinueToken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		token   string
		wantKey string
		wantErr bool
	}{
		{name: "round trip", token: mustToken(t, "/p/", "/p/b\x00", 7), wantKey: "/p/b\x00"},
		{name: "not base64", token: "%%%", wantErr: true},
		{name: "escapes prefix", token: mustToken(t, "/p/", "/p/../x", 7), wantErr: true},
		{name: "zero revision", token: mustToken(t, "/p/", "/p/a", 0), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, _, err := DecodeContinue(tc.token, "/p/")
			if tc.wantErr {
				if err == nil {
					t.Errorf("got key %q, want an error", key)
				}
				return
			}
			if err != nil || key != tc.wantKey {
				t.Errorf("got %q, %v, want %q", key, err, tc.wantKey)
			}
		})
	}
}

func mustToken(t *testing.T, prefix, key string, rev int64) string {
	t.Helper()
	tok, err := EncodeContinue(prefix, key, rev)
	if err != nil {
		t.Fatalf("encodeContinue: %v", err)
	}
	return tok
}
