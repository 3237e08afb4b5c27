package channels

import (
	"fmt"
	"net"
	"net/url"
)

// CheckHTTPURL reports whether value is an absolute http or https URL
// with a host, naming field in the error. The error never contains value
// or anything url.Parse says about it (which quotes it): a Slack webhook
// URL is a secret, and the caller's position information (file:line:col)
// already points at it. Only a scheme followed by "//" and a host, and so
// surely a scheme, is quoted.
func CheckHTTPURL(field, value string) error {
	u, err := url.Parse(value)
	if err != nil {
		return fmt.Errorf("%s: not a valid URL", field)
	}
	switch {
	case u.Scheme == "http" || u.Scheme == "https":
	case u.Scheme == "" || u.Host != "":
		// Nothing, or "ftp://host": a scheme for sure, safe to show.
		return fmt.Errorf("%s: scheme %q is not http or https", field, u.Scheme)
	default:
		// "host:443/path" and "user:password@host" parse with the host
		// or the user name as the scheme: not shown.
		return fmt.Errorf("%s: not an http or https URL", field)
	}
	if u.Host == "" {
		return fmt.Errorf("%s: no host", field)
	}
	return nil
}

// CheckCleartext reports a URL whose secret (a webhook's token or
// signature) would cross the network in clear text: http to a host other
// than this one. Validate accepts it, so tests and a local relay work;
// lint refuses it, and `lint --check-secrets` for a URL in a file. The
// error never contains the URL.
func CheckCleartext(field, value string) error {
	u, err := url.Parse(value)
	if err != nil || u.Scheme != "http" {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s: http would send the URL, and the secret in it, in clear text: use https", field)
}
