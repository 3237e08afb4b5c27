package trigger

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestTrustingVerifiesAgainstTheGivenCAOnly(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/enqueue" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Trusting(ca)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	if err := PostWith(c, srv.URL, []byte(`{}`)); err != nil {
		t.Errorf("trusting the server's CA: %v", err)
	}

	other := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(other, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Trusting(other); err == nil {
		t.Error("Trusting a file without a PEM certificate: no error")
	}
	// The server's CA is in no system bundle.
	var unknown x509.UnknownAuthorityError
	if err := Post(srv.URL, []byte(`{}`)); !errors.As(err, &unknown) {
		t.Errorf("the default client (system roots): err = %v, want x509.UnknownAuthorityError", err)
	}
}
