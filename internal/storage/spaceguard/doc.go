// Package spaceguard keeps a full disk from taking the server down: it
// wraps a storage.Interface whose data lives on a local filesystem (the
// embedded etcd's), reads that filesystem's free space every second, and
// refuses creates and updates with storage.ErrInsufficientStorage while it
// is below a reserve. etcd treats a failed write of its log as fatal;
// stopping API writes while some space is left keeps etcd, and every read,
// alive, and writes resume on their own once space is freed. Deletes go
// through: they are small and how an administrator makes room.
package spaceguard
