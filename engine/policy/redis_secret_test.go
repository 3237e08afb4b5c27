package policy

import "testing"

func TestRedisURLHasPassword(t *testing.T) {
	for url, want := range map[string]bool{
		"redis://10.0.0.5:6379/0":                 false,
		"redis://:pw@10.0.0.5:6379/0":             true,
		"redis://user:pw@10.0.0.5:6379/0":         true,
		"rediss://user@10.0.0.5:6379/0":           false,
		"redis://user:p%40ss@bad:port":            true,
		"unix:///run/redis.sock?db=0&password=pw": true,
		"unix:///run/redis.sock?db=0":             false,
		"redis://10.0.0.5:6379/0?password=pw":     true,
		"redis://10.0.0.5:6379/0?dial_timeout=1s": false,
		"not a url": false,
		"redis://10.0.0.5:6379/path@with:colon/x?y#z": false,
	} {
		if got := redisURLHasPassword(url); got != want {
			t.Errorf("redisURLHasPassword(%q) = %v, want %v", url, got, want)
		}
	}
}
