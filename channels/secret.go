package channels

import (
	"fmt"
	"os"
	"strings"
)

// maxSecretSize bounds a secret file: a routing key or a webhook URL is
// short; anything bigger is the wrong file.
const maxSecretSize = 64 << 10

// ReadSecret returns the secret given inline or, preferably, in file
// (surrounding whitespace trimmed). Errors name the field and the file,
// never the content.
func ReadSecret(field, inline, file string) (string, error) {
	if file == "" {
		if inline == "" {
			return "", fmt.Errorf("%s: no secret given (set %s_file)", field, field)
		}
		return inline, nil
	}
	st, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("%s_file: %w", field, err)
	}
	if st.Size() > maxSecretSize {
		return "", fmt.Errorf("%s_file %q: %d bytes, more than a secret can be", field, file, st.Size())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_file: %w", field, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s_file %q is empty", field, file)
	}
	return s, nil
}
