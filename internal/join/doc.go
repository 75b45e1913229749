// Package join turns a server URL and a join token into a client
// configuration for a joining node, k3s-style: it fetches the server's CA
// from /cacerts without trusting the connection, checks it against the
// CA hash carried in the token, and only then uses the token's secret as
// bearer credentials over a connection verified by that CA.
package join
