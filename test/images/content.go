package testimages

import (
	"fmt"
	"strings"
)

// defaultPath is the PATH of every image, as Docker's library images set it.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// account is one user of an image's /etc/passwd, with a group of the same
// name and id in /etc/group.
type account struct {
	name  string
	id    int
	home  string
	shell string
}

// group is an extra /etc/group entry.
type group struct {
	name    string
	id      int
	members []string
}

// baseAccounts are the users of every image: root, nobody and an ordinary
// user 1000 (tests of runAsUser and supplemental groups look them up).
func baseAccounts() []account {
	return []account{
		{name: "root", id: 0, home: "/root", shell: "/bin/sh"},
		{name: "nobody", id: 65534, home: "/nonexistent", shell: "/bin/false"},
		{name: "user", id: 1000, home: "/home/user", shell: "/bin/sh"},
	}
}

// passwdFiles returns /etc/passwd and /etc/group for users (each with its
// own group) and the extra groups.
func passwdFiles(users []account, groups []group) map[string]File {
	var passwd, grp strings.Builder
	for _, u := range users {
		fmt.Fprintf(&passwd, "%s:x:%d:%d:%s:%s:%s\n", u.name, u.id, u.id, u.name, u.home, u.shell)
		fmt.Fprintf(&grp, "%s:x:%d:\n", u.name, u.id)
	}
	for _, g := range groups {
		fmt.Fprintf(&grp, "%s:x:%d:%s\n", g.name, g.id, strings.Join(g.members, ","))
	}
	return map[string]File{
		"/etc/passwd": Text(passwd.String(), 0o644),
		"/etc/group":  Text(grp.String(), 0o644),
	}
}

// nsswitchConf makes glibc programs (nginx, dig, getent) read the files
// first and then DNS, as a Debian image does.
const nsswitchConf = `passwd:   files
group:    files
shadow:   files
hosts:    files dns
networks: files
protocols: files
services: files
`

// nginxConf is the main nginx configuration: one worker per CPU in the
// foreground-friendly layout of the nginx library image, logs to the
// container's stdout and stderr, servers from conf.d.
const nginxConf = `user nginx;
worker_processes auto;

error_log stderr notice;
pid /run/nginx.pid;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;

    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    access_log /dev/stdout main;

    sendfile on;
    keepalive_timeout 65;

    include /etc/nginx/conf.d/*.conf;
}
`

// nginxDefaultServer is /etc/nginx/conf.d/default.conf: the welcome page on
// port 80. IPv4 only, since a pod may have no IPv6 address to bind.
const nginxDefaultServer = `server {
    listen 80;
    server_name localhost;

    location / {
        root /usr/share/nginx/html;
        index index.html index.htm;
    }

    error_page 500 502 503 504 /50x.html;
    location = /50x.html {
        root /usr/share/nginx/html;
    }
}
`

// nginxMimeTypes maps the usual extensions of a test's static files.
const nginxMimeTypes = `types {
    text/html                 html htm shtml;
    text/css                  css;
    text/plain                txt;
    text/xml                  xml;
    application/javascript    js;
    application/json          json;
    image/gif                 gif;
    image/jpeg                jpeg jpg;
    image/png                 png;
    image/svg+xml             svg svgz;
    image/x-icon              ico;
    application/octet-stream  bin;
}
`

// nginxIndex is the page nginx serves at /: tests look for its title.
const nginxIndex = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>nginx is running in an svcnet test image.</p>
</body>
</html>
`

// nginx50x is the error page of the default server.
const nginx50x = `<!DOCTYPE html>
<html>
<head>
<title>Error</title>
</head>
<body>
<h1>An error occurred.</h1>
<p>The page you are looking for is temporarily unavailable.</p>
</body>
</html>
`
