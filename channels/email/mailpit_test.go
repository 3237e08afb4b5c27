package email

// The SMTP server the tests send to is mailpit (apitest.Mailpit: a tool
// of tools/go.mod, started on 127.0.0.1 with the TLS, AUTH and failure
// modes a test asks for); what arrived is read back through its HTTP API
// and parsed with net/mail.

import (
	"net/mail"
	"testing"

	"notifier/internal/apitest"
)

// messages returns the n messages mp holds, oldest first, waiting
// (bounded) until there are n; the test fails otherwise.
func messages(t *testing.T, mp *apitest.Mailpit, n int) []*mail.Message {
	t.Helper()
	got, err := mp.WaitMessages(n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
