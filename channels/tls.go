package channels

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSConfig is the client TLS configuration of a channel that connects
// to serverName itself (syslog over TLS, SMTP): the system's roots plus
// the certificates in caFile (a private CA), TLS 1.2 at least. option
// names caFile's option in errors.
func TLSConfig(serverName, option, caFile string) (*tls.Config, error) {
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool() // no system pool: caFile is all we trust
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", option, err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %q %w", option, caFile, errNoPEM)
		}
	}
	return &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}

var errNoPEM = errors.New("holds no PEM certificate")

// CheckCA is the content check of a ca_file option (File.Check): the
// file must hold at least one PEM certificate.
func CheckCA(content string) error {
	if !x509.NewCertPool().AppendCertsFromPEM([]byte(content)) {
		return errNoPEM
	}
	return nil
}
