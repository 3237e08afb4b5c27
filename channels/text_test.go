package channels

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"  padded  ", "padded"},
		{"line one\r\n\tline two\n\nthree", "line one line two three"},
		{"para\u2028sep\u00a0nbsp", "para sep nbsp"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := OneLine(tt.in); got != tt.want {
				t.Errorf("OneLine(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFirstNonEmpty(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"none", nil, ""},
		{"all empty", []string{"", ""}, ""},
		{"first", []string{"db1", "cc1", "notifier"}, "db1"},
		{"skips empty", []string{"", "cc1", "notifier"}, "cc1"},
		{"skips blank", []string{" \t", "", "notifier"}, "notifier"},
		{"returned untrimmed", []string{"", " db1 "}, " db1 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FirstNonEmpty(tt.in...); got != tt.want {
				t.Errorf("FirstNonEmpty(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestClusterLabel(t *testing.T) {
	tests := []struct {
		name    string
		cluster string
		id      int
		want    string
	}{
		{"name and id", "prod-db", 7, "prod-db (id 7)"},
		{"name only", "prod-db", 0, "prod-db"},
		{"id only", "", 7, "id 7"},
		{"neither", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Message{Cluster: tt.cluster, ClusterID: tt.id}
			if got := m.ClusterLabel(); got != tt.want {
				t.Errorf("ClusterLabel() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestContractValues pins the strings that leave the process: syslog's
// action= and MSGID, what explain prints, and the engine's severities.
func TestContractValues(t *testing.T) {
	for got, want := range map[string]string{
		string(Trigger): "trigger", string(Inform): "message", string(Resolve): "resolve",
		SeverityCritical: "critical", SeverityWarning: "warning", SeverityInfo: "info",
	} {
		if got != want {
			t.Errorf("constant is %q, want %q", got, want)
		}
	}
}

func TestCheckHTTPURL(t *testing.T) {
	tests := []struct {
		name, value string
		want        string // "" for valid
	}{
		{"https", "https://events.pagerduty.com", ""},
		{"http with port and path", "http://127.0.0.1:8080/v2/enqueue", ""},
		{"webhook", "https://hooks.slack.com/services/T0/B0/s3cr3tPath", ""},
		{"no scheme", "hooks.slack.com/services/T0/B0/s3cr3tPath", `webhook_url: scheme "" is not http or https`},
		{"other scheme", "ftp://x/s3cr3tPath", `webhook_url: scheme "ftp" is not http or https`},
		{"host and port without scheme", "hooks.slack.com:443/services/s3cr3tPath", "webhook_url: not an http or https URL"},
		{"user info without scheme", "s3cr3tPath:s3cr3tPath@hooks.slack.com/services", "webhook_url: not an http or https URL"},
		{"scheme without host", "s3cr3tPath:", "webhook_url: not an http or https URL"},
		{"other scheme without host", "ftp:/s3cr3tPath", "webhook_url: not an http or https URL"},
		{"no host", "https:///services/s3cr3tPath", "webhook_url: no host"},
		{"opaque", "https:s3cr3tPath", "webhook_url: no host"},
		{"unparseable", "https://hooks.slack.com/s3cr3tPath/%zz", "webhook_url: not a valid URL"},
		{"bad host", "http://[::1/s3cr3tPath", "webhook_url: not a valid URL"},
		{"control character", "https://hooks.slack.com/s3cr3tPath\n", "webhook_url: not a valid URL"},
		{"empty", "", `webhook_url: scheme "" is not http or https`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckHTTPURL("webhook_url", tt.value)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("CheckHTTPURL(%q) = %q, want %q", tt.value, got, tt.want)
			}
			if strings.Contains(got, "s3cr3tPath") {
				t.Errorf("error %q shows the URL", got)
			}
		})
	}
}

func TestShed(t *testing.T) {
	entries := map[string]string{"a": "1", "b": "22222", "c": "333", "d": "333"}
	size := func(k, v string) int { return len(v) }
	tests := []struct {
		excess int
		want   []string
	}{
		{0, nil},
		{1, []string{"b"}},
		{5, []string{"b"}},
		{6, []string{"b", "c"}}, // ties by name
		{9, []string{"b", "c", "d"}},
		{100, []string{"b", "c", "d", "a"}},
	}
	for _, tt := range tests {
		if got := Shed(entries, tt.excess, size); !slices.Equal(got, tt.want) {
			t.Errorf("Shed(excess %d) = %v, want %v", tt.excess, got, tt.want)
		}
	}
}

// TestSecretForms: every spelling of a secret URL a server or a library
// may echo is replaced, whichever part holds the secret.
func TestSecretForms(t *testing.T) {
	raw := "https://user:pa55word@hooks.example.net/services/T0KEN1234/x?sig=S1G%2Fabc%3D&api-version=1"
	forms := SecretForms(raw)
	for i := 1; i < len(forms); i++ {
		if len(forms[i]) > len(forms[i-1]) {
			t.Fatalf("not longest first: %q", forms)
		}
	}
	for _, echo := range []string{raw, "/services/T0KEN1234/x", "T0KEN1234", "sig=S1G%2Fabc%3D&api-version=1", "S1G/abc=", "S1G%2Fabc%3D", "pa55word", "user:pa55word"} {
		if got := Redact("server said: "+echo+" is wrong", forms...); strings.Contains(got, echo) {
			t.Errorf("%q survives: %s", echo, got)
		}
	}
}

// TestSafeError: the message loses the secret, and the error unwraps to
// its cause only when the cause's text does not hold it.
func TestSafeError(t *testing.T) {
	secrets := []string{"t0psecret"}
	clean := errors.New("connection refused")
	err := SafeError("post to t0psecret: refused", clean, secrets)
	if strings.Contains(err.Error(), "t0psecret") || !errors.Is(err, clean) {
		t.Errorf("got %q, unwraps to the clean cause: %v", err, errors.Is(err, clean))
	}
	dirty := errors.New("dial https://x/t0psecret: refused")
	if err := SafeError("post: refused", dirty, secrets); errors.Unwrap(err) != nil {
		t.Errorf("unwraps to a cause that holds the secret: %v", errors.Unwrap(err))
	}
}

// TestCheckCleartext: http to another host sends a URL's secret in clear
// text; https, and http to this host (tests, a local relay), do not.
func TestCheckCleartext(t *testing.T) {
	for u, bad := range map[string]bool{
		"http://hooks.example.net/x?sig=abc": true,
		"http://10.0.0.1:8080/x":             true,
		"https://hooks.example.net/x":        false,
		"http://127.0.0.1:4321/x":            false,
		"http://[::1]:4321/x":                false,
		"http://localhost/x":                 false,
		"":                                   false,
	} {
		err := CheckCleartext("webhook_url", u)
		if (err != nil) != bad || (err != nil && strings.Contains(err.Error(), "example")) {
			t.Errorf("%q: %v, want an error %v (never quoting the URL)", u, err, bad)
		}
	}
}
