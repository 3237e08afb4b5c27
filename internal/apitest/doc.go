// Package apitest runs local servers that speak the real PagerDuty, Slack,
// syslog and Teams Workflows contracts, a generic webhook receiver, and a
// real SMTP server (mailpit, built from tools/go.mod), for tests, the
// demo and benchmarks.
//
// Each server answers the way the real service does — status codes, error
// bodies, Retry-After — so the channels are exercised through their real
// client libraries over real sockets, and failures (rate limits, outages,
// hung connections) can be programmed rather than hoped for. Everything
// received is kept, in arrival order, for assertions.
//
// The servers listen on 127.0.0.1 only and are safe for concurrent use.
package apitest
