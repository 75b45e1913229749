package images

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// testWebserver is agnhost's test-webserver: files over HTTP on --port.
// Upstream's serves the container's whole root filesystem; in the process
// runtime that is the host's, read by root, so the built-in one serves
// only what lies in the container's own volumes (--serve-dir, one per
// volume mount, which Argv adds), after resolving symlinks.
func testWebserver(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("test-webserver", flag.ContinueOnError)
	port := fs.Int("port", 80, "port")
	var dirs stringList
	fs.Var(&dirs, "serve-dir", "directory whose files are served (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv := &http.Server{Addr: ":" + strconv.Itoa(*port), Handler: webserverHandler(dirs), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Fprintf(stdout, "Serving the files of %v on port %d\n", []string(dirs), *port)
	select {
	case <-ctx.Done():
		return srv.Close()
	case err := <-errc:
		return err
	}
}

// webserverHandler serves files under dirs only, with upstream's headers.
func webserverHandler(dirs []string) http.Handler {
	files := http.FileServer(http.Dir("/"))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		r.Header.Del("If-Modified-Since")
		if !servable(dirs, r.URL.Path) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// servable reports whether path, with symlinks resolved, lies inside one
// of dirs (also resolved).
func servable(dirs []string, path string) bool {
	real, err := filepath.EvalSymlinks(filepath.Clean("/" + path))
	if err != nil {
		return false
	}
	for _, d := range dirs {
		dir, err := filepath.EvalSymlinks(filepath.Clean(d))
		if err != nil || dir == "/" {
			continue
		}
		if real == dir || strings.HasPrefix(real, dir+"/") {
			return true
		}
	}
	return false
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
