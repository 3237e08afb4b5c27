package email

import (
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"notifier/channels"
	"notifier/internal/apitest"
)

const (
	testUser     = "alerts@example.com"
	testPassword = "s3cret-Pa55word" // what the tests look for in every error
)

func trigger() *channels.Message {
	return &channels.Message{
		Key: "cmon:7:alarm:disk-full:db1", Action: channels.Trigger, Severity: channels.SeverityCritical,
		Summary: "Disk almost full on db1", Rule: "disk", Source: "cmon", Kind: "alarm", EventType: "StorageAlarm",
		Cluster: "prod-db", ClusterID: 7, Node: "db1", Controller: "cmon1", Name: "DiskFull",
		Text: "/var/lib/mysql is 97% full", Recommendation: "Free some space.", Count: 3,
		Time: time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC), Suppressed: 2,
		Details: map[string]string{"alarm_id": "42", "hostname": ""},
	}
}

func resolveOf(m *channels.Message, ref string) *channels.Message {
	r := *m
	r.Action, r.Rule, r.Ref = channels.Resolve, "resolve", ref
	r.Time = m.Time.Add(time.Minute)
	return &r
}

// config is a channel to mp as the test server needs it.
func config(mp *apitest.Mailpit) Config {
	return Config{
		Host: mp.Host(), Port: mp.Port(), CAFile: mp.CAFile(),
		From: "Notifier <notifier@example.com>", To: []string{"oncall@example.com", "Backup <backup@example.com>"},
		Cc: []string{"dba@example.com"}, Timeout: 10 * time.Second,
	}
}

func newNotifier(t *testing.T, c Config) *Notifier {
	t.Helper()
	n, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func send(t *testing.T, n *Notifier, m *channels.Message) string {
	t.Helper()
	ref, err := n.NotifyRef(context.Background(), m)
	if err != nil {
		t.Fatalf("NotifyRef: %v", err)
	}
	return ref
}

func body(t *testing.T, m *mail.Message) string {
	t.Helper()
	r := m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r) // net/mail leaves it encoded
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func addresses(t *testing.T, m *mail.Message, header string) []string {
	t.Helper()
	list, err := m.Header.AddressList(header)
	if err != nil {
		t.Fatalf("%s: %v", header, err)
	}
	var out []string
	for _, a := range list {
		out = append(out, a.Address)
	}
	return out
}

func references(m *mail.Message) []string { return strings.Fields(m.Header.Get("References")) }

// A trigger and its resolve through a server that requires STARTTLS
// (it answers 530 to MAIL on a plain connection, so a message that
// arrived came over TLS): every header as received, the built-in texts,
// and the resolve threaded under the trigger through the ref.
func TestSTARTTLSTriggerAndResolveThread(t *testing.T) {
	mp := apitest.StartMailpit(t, apitest.MailpitOptions{TLS: apitest.MailpitSTARTTLS})
	n := newNotifier(t, config(mp))
	m := trigger()
	ref := send(t, n, m)
	rref := send(t, n, resolveOf(m, ref))
	later := resolveOf(m, "")
	later.Time = later.Time.Add(time.Minute)
	noRef := send(t, n, later)

	got := messages(t, mp, 3)
	trig, res, fallback := got[0], got[1], got[2]
	want := BuildMail(config(mp).From, m)

	if from := addresses(t, trig, "From"); !slices.Equal(from, []string{"notifier@example.com"}) {
		t.Errorf("From = %v", from)
	}
	if to := addresses(t, trig, "To"); !slices.Equal(to, []string{"oncall@example.com", "backup@example.com"}) {
		t.Errorf("To = %v", to)
	}
	if cc := addresses(t, trig, "Cc"); !slices.Equal(cc, []string{"dba@example.com"}) {
		t.Errorf("Cc = %v", cc)
	}
	if s := trig.Header.Get("Subject"); s != "[CRITICAL] Disk almost full on db1" {
		t.Errorf("Subject = %q", s)
	}
	b := body(t, trig)
	for _, s := range []string{"CRITICAL: Disk almost full on db1", "/var/lib/mysql is 97% full", "Recommendation: Free some space.",
		"prod-db (id 7)", "db1", "StorageAlarm", "Count:", "2026-12-05T06:00:00Z", "2 more like it were suppressed",
		"cmon:7:alarm:disk-full:db1", "Rule:        disk", "alarm_id: 42"} {
		if !strings.Contains(b, s) {
			t.Errorf("body lacks %q:\n%s", s, b)
		}
	}
	if id := trig.Header.Get("Message-ID"); id != ref || id != want.MessageID {
		t.Errorf("Message-ID = %q, NotifyRef returned %q, BuildMail %q", id, ref, want.MessageID)
	}
	thread := want.References[0]
	if r := references(trig); !slices.Equal(r, []string{thread}) {
		t.Errorf("trigger References = %v, want the key's thread %s", r, thread)
	}
	if trig.Header.Get("In-Reply-To") != "" {
		t.Errorf("trigger In-Reply-To = %q", trig.Header.Get("In-Reply-To"))
	}
	for h, v := range map[string]string{"Auto-Submitted": "auto-generated", "X-Notifier-Key": m.Key,
		"X-Notifier-Action": "trigger", "User-Agent": "notifier"} {
		if got := trig.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	if _, err := trig.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}

	if s := res.Header.Get("Subject"); s != "[RESOLVED] Disk almost full on db1" {
		t.Errorf("resolve Subject = %q", s)
	}
	if !strings.Contains(body(t, res), "RESOLVED (was critical): Disk almost full on db1") {
		t.Errorf("resolve body lacks its headline")
	}
	if irt := res.Header.Get("In-Reply-To"); irt != ref {
		t.Errorf("resolve In-Reply-To = %q, want the trigger's %q", irt, ref)
	}
	if r := references(res); !slices.Equal(r, []string{thread, ref}) {
		t.Errorf("resolve References = %v, want [%s %s]", r, thread, ref)
	}
	if id := res.Header.Get("Message-ID"); id != rref || id == ref {
		t.Errorf("resolve Message-ID = %q (returned %q), trigger's %q", id, rref, ref)
	}
	if res.Header.Get("X-Notifier-Action") != "resolve" {
		t.Errorf("resolve X-Notifier-Action = %q", res.Header.Get("X-Notifier-Action"))
	}

	// Without a ref (the trigger's was lost), the resolve replies to the
	// key's thread, which the trigger references too.
	if irt := fallback.Header.Get("In-Reply-To"); irt != thread {
		t.Errorf("resolve without ref: In-Reply-To = %q, want %q", irt, thread)
	}
	if r := references(fallback); !slices.Equal(r, []string{thread}) {
		t.Errorf("resolve without ref: References = %v", r)
	}
	if noRef == rref {
		t.Errorf("two resolves of different times share Message-ID %s", noRef)
	}
}

// The same server refuses a plain-text session: the TLS above was the
// server's requirement, not luck; and its refusal is permanent, with its
// text.
func TestSTARTTLSServerRefusesPlainText(t *testing.T) {
	mp := apitest.StartMailpit(t, apitest.MailpitOptions{TLS: apitest.MailpitSTARTTLS})
	c := config(mp)
	c.TLS, c.CAFile = TLSNone, ""
	_, err := newNotifier(t, c).NotifyRef(context.Background(), trigger())
	if err == nil {
		t.Fatal("a plain-text session was accepted by a server requiring STARTTLS")
	}
	if retry, _ := channels.IsRetryable(err); retry || !strings.Contains(err.Error(), "530") {
		t.Errorf("err = %v (retryable %v), want permanent with the server's 530", err, retry)
	}
	messages(t, mp, 0)
}

// Implicit TLS: the server speaks only TLS (--smtp-require-tls).
func TestImplicitTLS(t *testing.T) {
	mp := apitest.StartMailpit(t, apitest.MailpitOptions{TLS: apitest.MailpitImplicit})
	c := config(mp)
	c.TLS = TLSImplicit
	ref := send(t, newNotifier(t, c), trigger())
	got := messages(t, mp, 1)
	if id := got[0].Header.Get("Message-ID"); id != ref {
		t.Errorf("Message-ID = %q, want %q", id, ref)
	}
}

// SMTP AUTH with the user and password from files, over STARTTLS (the
// server offers PLAIN and LOGIN only over TLS); a wrong password is a
// permanent failure with the server's text and without the password.
func TestAuth(t *testing.T) {
	mp := apitest.StartMailpit(t, apitest.MailpitOptions{TLS: apitest.MailpitSTARTTLS, Auth: testUser + ":" + testPassword})
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := config(mp)
	c.Username, c.PasswordFile = testUser, file("password", testPassword)
	send(t, newNotifier(t, c), trigger())

	c = config(mp)
	c.UsernameFile, c.Password = file("user", testUser), testPassword
	send(t, newNotifier(t, c), trigger())
	messages(t, mp, 2)

	c = config(mp)
	c.Username, c.PasswordFile = testUser, file("wrong", testPassword+"-wrong")
	_, err := newNotifier(t, c).NotifyRef(context.Background(), trigger())
	if err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if retry, _ := channels.IsRetryable(err); retry || !strings.Contains(err.Error(), "535") {
		t.Errorf("err = %v (retryable %v), want permanent with the server's 535", err, retry)
	}
	noSecret(t, err, testPassword)
	messages(t, mp, 2)

	// Without AUTH the server refuses the sender.
	_, err = newNotifier(t, config(mp)).NotifyRef(context.Background(), trigger())
	if retry, _ := channels.IsRetryable(err); err == nil || retry {
		t.Errorf("no AUTH: err = %v (retryable %v), want permanent", err, retry)
	}
}

func noSecret(t *testing.T, err error, pw string) {
	t.Helper()
	for _, s := range []string{pw, base64.StdEncoding.EncodeToString([]byte(pw))} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error holds a secret: %v", err)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("the error is not one line: %q", err)
	}
}

// A 4xx reply is retryable, a 5xx permanent, each with the server's text.
func TestReplyClassification(t *testing.T) {
	for _, tc := range []struct {
		chaos string
		retry bool
	}{
		{"Recipient:451:100", true},
		{"Recipient:550:100", false},
		{"Sender:421:100", true},
		{"Sender:554:100", false},
	} {
		t.Run(tc.chaos, func(t *testing.T) {
			mp := apitest.StartMailpit(t, apitest.MailpitOptions{TLS: apitest.MailpitSTARTTLS, Chaos: tc.chaos})
			_, err := newNotifier(t, config(mp)).NotifyRef(context.Background(), trigger())
			if err == nil {
				t.Fatal("delivered")
			}
			code := strings.Split(tc.chaos, ":")[1]
			if retry, _ := channels.IsRetryable(err); retry != tc.retry || !strings.Contains(err.Error(), code) || !strings.Contains(err.Error(), "Chaos") {
				t.Errorf("err = %v, retryable %v, want %v with the server's text", err, retry, tc.retry)
			}
		})
	}
}

// A server without STARTTLS is refused with tls: starttls (never plain
// text in its place), permanently; tls: none then reaches it, on the
// given port, saying the given HELO.
func TestNoSTARTTLSOffered(t *testing.T) {
	mp := apitest.StartMailpit(t, apitest.MailpitOptions{})
	c := config(mp)
	c.CAFile = ""
	_, err := newNotifier(t, c).NotifyRef(context.Background(), trigger())
	if retry, _ := channels.IsRetryable(err); err == nil || retry || !strings.Contains(err.Error(), "does not support STARTTLS") {
		t.Fatalf("err = %v (retryable %v), want a permanent refusal naming STARTTLS", err, retry)
	}
	messages(t, mp, 0)

	c.TLS, c.HELO = TLSNone, "notifier-test.example"
	send(t, newNotifier(t, c), trigger())
	got := messages(t, mp, 1)
	if rcv := got[0].Header.Get("Received"); !strings.Contains(rcv, "from notifier-test.example") {
		t.Errorf("Received = %q, want the HELO name", rcv)
	}
}

// A certificate the channel does not trust is a permanent failure.
func TestUntrustedCertificate(t *testing.T) {
	mp := apitest.StartMailpit(t, apitest.MailpitOptions{TLS: apitest.MailpitImplicit})
	c := config(mp)
	c.TLS, c.CAFile = TLSImplicit, ""
	_, err := newNotifier(t, c).NotifyRef(context.Background(), trigger())
	if retry, _ := channels.IsRetryable(err); err == nil || retry || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v (retryable %v), want a permanent certificate failure", err, retry)
	}
}

// Templates' rendered parts replace the built-in subject and body.
func TestPartsReplaceSubjectAndBody(t *testing.T) {
	mp := apitest.StartMailpit(t, apitest.MailpitOptions{TLS: apitest.MailpitSTARTTLS})
	m := trigger()
	m.Parts = map[string]string{"subject": "DB1 disk — runbook inside\n", "body": "See https://runbooks.example.com/disk\nOwner: dba\n"}
	send(t, newNotifier(t, config(mp)), m)
	got := messages(t, mp, 1)[0]
	s := got.Header.Get("Subject")
	if dec, err := new(mime.WordDecoder).DecodeHeader(s); err != nil || dec != "DB1 disk — runbook inside" {
		t.Errorf("Subject = %q (%q, %v)", s, dec, err)
	}
	if b := body(t, got); b != "See https://runbooks.example.com/disk\r\nOwner: dba\r\n" {
		t.Errorf("body = %q", b)
	}
}

// A server that offers no SMTP AUTH, to a channel with a password: a
// permanent refusal, not the message sent without AUTH.
func TestAuthNotOffered(t *testing.T) {
	mp := apitest.StartMailpit(t, apitest.MailpitOptions{TLS: apitest.MailpitSTARTTLS})
	c := config(mp)
	c.Username, c.Password = testUser, testPassword
	_, err := newNotifier(t, c).NotifyRef(context.Background(), trigger())
	if retry, _ := channels.IsRetryable(err); err == nil || retry || !strings.Contains(err.Error(), "AUTH") {
		t.Fatalf("err = %v (retryable %v), want a permanent refusal naming AUTH", err, retry)
	}
	noSecret(t, err, testPassword)
	messages(t, mp, 0)
}
