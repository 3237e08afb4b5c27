package apitest

import (
	"crypto/tls"
	"crypto/x509"
	"net/smtp"
	"os"
	"strings"
	"testing"
)

const mailpitTestMessage = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n\r\nbody\r\n"

// TestMailpitPlain: a message sent over plain SMTP is read back, parsed,
// oldest first.
func TestMailpitPlain(t *testing.T) {
	mp := StartMailpit(t, MailpitOptions{})
	if mp.Host() != "127.0.0.1" || mp.CAFile() != "" || !strings.HasSuffix(mp.APIURL(), "/api/v1/") {
		t.Fatalf("host %s ca %q api %s", mp.Host(), mp.CAFile(), mp.APIURL())
	}
	for _, subject := range []string{"first", "second"} {
		msg := strings.Replace(mailpitTestMessage, "hello", subject, 1)
		if err := smtp.SendMail(mp.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := mp.WaitMessages(2)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Header.Get("Subject") != "first" || got[1].Header.Get("Subject") != "second" {
		t.Errorf("subjects %q, %q; want first, second", got[0].Header.Get("Subject"), got[1].Header.Get("Subject"))
	}
	if now, err := mp.Messages(); err != nil || len(now) != 2 {
		t.Errorf("Messages() = %d, %v", len(now), err)
	}
}

// TestMailpitSTARTTLSAuth: with STARTTLS required and an AUTH file, a
// plain MAIL is refused; over TLS trusting CAFile, with the user and
// password, the message arrives.
func TestMailpitSTARTTLSAuth(t *testing.T) {
	mp := StartMailpit(t, MailpitOptions{TLS: MailpitSTARTTLS, Auth: "user:pa55"})
	if err := smtp.SendMail(mp.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte(mailpitTestMessage)); err == nil {
		t.Error("a plain-text MAIL was accepted")
	}
	pem, err := os.ReadFile(mp.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("CAFile holds no certificate")
	}
	dial := func() *smtp.Client {
		c, err := smtp.Dial(mp.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.StartTLS(&tls.Config{RootCAs: roots, ServerName: mp.Host()}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := dial().Auth(smtp.PlainAuth("", "user", "wrong", mp.Host())); err == nil {
		t.Error("a wrong password was accepted")
	}
	c := dial()
	if err := c.Auth(smtp.PlainAuth("", "user", "pa55", mp.Host())); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.com"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(mailpitTestMessage))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	if got, err := mp.WaitMessages(1); err != nil || got[0].Header.Get("Subject") != "hello" {
		t.Errorf("WaitMessages(1) = %v, %v", got, err)
	}
}

// TestMailpitRefusesAnUnknownTLSMode: a typo is an error, not a plain
// server.
func TestMailpitRefusesAnUnknownTLSMode(t *testing.T) {
	RequireMailpit(t)
	if mp, err := NewMailpit(MailpitOptions{TLS: "tls"}); err == nil {
		mp.Close()
		t.Fatal("NewMailpit(tls: tls) started")
	}
}
