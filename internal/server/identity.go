package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// serverIDFile holds this server's random ID inside the data dir.
const serverIDFile = "server-id"

// identity is this server's leader-election holderIdentity:
// "<node name>_<ID>", with the ID kept in the data dir. Upstream uses a
// fresh UUID per process; a stable one lets a restarted leader take its
// own unexpired lease back at once instead of waiting for it to expire,
// so a single server restarts as fast as before.
func (s *Server) identity() (string, error) {
	path := filepath.Join(s.cfg.DataDir, serverIDFile)
	data, err := os.ReadFile(path)
	id := strings.TrimSpace(string(data))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && id == "") {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("server id: %w", err)
		}
		id = hex.EncodeToString(b)
		if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("server id: %w", err)
		}
	} else if err != nil {
		return "", fmt.Errorf("server id: %w", err)
	}
	return s.nodeName() + "_" + id, nil
}
