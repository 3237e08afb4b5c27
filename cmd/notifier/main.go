// Command notifier decides, from ops-written YAML policies, who must hear
// about one CMON or Pacemaker event, and tells them: PagerDuty, Slack,
// syslog. CMON and Pacemaker execute it once per event.
package main

import (
	"os"
)

func main() {
	err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	os.Exit(exitCode(err, os.Stderr))
}
