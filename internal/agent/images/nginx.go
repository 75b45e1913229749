package images

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NginxConfDir is where the built-in nginx reads its server configuration,
// as the nginx image's default.conf include.
const NginxConfDir = "/etc/nginx/conf.d"

// WelcomePage is the body the built-in nginx serves: nginx's default page,
// recognisable by its title and heading.
const WelcomePage = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>This page is served by svcnet's built-in nginx image.</p>
</body>
</html>
`

// nginxListener is one listen directive.
type nginxListener struct {
	Port int
	SSL  bool
}

// nginxConfig is what the built-in nginx understands of a configuration.
type nginxConfig struct {
	Listen      []nginxListener
	Certificate string
	Key         string
}

// defaultNginxConfig is used without any *.conf file: the nginxhttps
// image's own configuration (HTTP on 80, HTTPS on 443 with the key pair
// under /etc/nginx/ssl).
func defaultNginxConfig() nginxConfig {
	return nginxConfig{Listen: []nginxListener{{Port: 80}, {Port: 443, SSL: true}},
		Certificate: "/etc/nginx/ssl/tls.crt", Key: "/etc/nginx/ssl/tls.key"}
}

// parseNginxConfig reads the listen, ssl_certificate and
// ssl_certificate_key directives of nginx configuration text; everything
// else is ignored. An IPv6 listen ([::]:80) on a port already listened on
// adds nothing (the server listens on both families).
func parseNginxConfig(text string, cfg *nginxConfig) {
	seen := map[int]int{}
	for i, l := range cfg.Listen {
		seen[l.Port] = i
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(line), ";")))
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "listen":
			addr := f[1]
			if i := strings.LastIndex(addr, ":"); i >= 0 {
				addr = addr[i+1:]
			}
			port, err := strconv.Atoi(addr)
			if err != nil {
				continue
			}
			ssl := false
			for _, p := range f[2:] {
				ssl = ssl || p == "ssl"
			}
			if i, ok := seen[port]; ok {
				cfg.Listen[i].SSL = cfg.Listen[i].SSL || ssl
				continue
			}
			seen[port] = len(cfg.Listen)
			cfg.Listen = append(cfg.Listen, nginxListener{Port: port, SSL: ssl})
		case "ssl_certificate":
			cfg.Certificate = f[1]
		case "ssl_certificate_key":
			cfg.Key = f[1]
		}
	}
}

// loadNginxConfig reads dir/*.conf, or returns the default configuration
// when there is none or it declares no listen directive.
func loadNginxConfig(dir string) (nginxConfig, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return nginxConfig{}, err
	}
	sort.Strings(files)
	var cfg nginxConfig
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nginxConfig{}, err
		}
		parseNginxConfig(string(b), &cfg)
	}
	if len(cfg.Listen) == 0 {
		def := defaultNginxConfig()
		if cfg.Certificate == "" {
			cfg.Certificate, cfg.Key = def.Certificate, def.Key
		}
		cfg.Listen = def.Listen
	}
	return cfg, nil
}

// nginxHandler serves the welcome page at / and /index.html.
func nginxHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx")
		if r.URL.Path != "/" && r.URL.Path != "/index.html" {
			http.Error(w, "404 Not Found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, WelcomePage)
	})
}

// nginx serves the welcome page on the configured ports until ctx ends.
// Like nginx, it fails at start when an ssl listener's key pair cannot be
// loaded.
func nginx(ctx context.Context, args []string) error {
	dir := NginxConfDir
	if len(args) > 0 {
		dir = args[0]
	}
	cfg, err := loadNginxConfig(dir)
	if err != nil {
		return fmt.Errorf("nginx: reading configuration: %w", err)
	}
	var tlsCfg *tls.Config
	for _, l := range cfg.Listen {
		if l.SSL && tlsCfg == nil {
			cert, err := tls.LoadX509KeyPair(cfg.Certificate, cfg.Key)
			if err != nil {
				return fmt.Errorf("nginx: [emerg] cannot load certificate %q: %w", cfg.Certificate, err)
			}
			tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
	}
	errc := make(chan error, len(cfg.Listen))
	var servers []*http.Server
	for _, l := range cfg.Listen {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(l.Port))
		if err != nil {
			return fmt.Errorf("nginx: [emerg] bind() to 0.0.0.0:%d failed: %w", l.Port, err)
		}
		srv := &http.Server{Handler: nginxHandler(), ReadHeaderTimeout: 10 * time.Second}
		if l.SSL {
			ln = tls.NewListener(ln, tlsCfg)
		}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(ln) }()
	}
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
