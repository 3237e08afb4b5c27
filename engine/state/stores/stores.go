// Package stores opens the state topology a policy's settings describe:
// the embedded bbolt file, and Redis beside it when configured. It is
// apart from package state because it builds the backends, which
// themselves build on package state.
package stores

import (
	"fmt"

	"notifier/channels"
	"notifier/engine/state"
	"notifier/engine/state/bolt"
	"notifier/engine/state/redis"
)

// Config is what settings.state says.
type Config struct {
	// Path is the bbolt file (state.DefaultBoltPath when empty).
	Path string
	// RedisURL, when set, makes Redis the shared store; the password
	// comes from RedisPasswordFile when set (settings.state.redis.
	// password_file) and Namespace prefixes every key ("notifier" when
	// empty).
	RedisURL, RedisPasswordFile, Namespace string
	// Batch makes the bbolt store commit concurrent updates in groups
	// (bolt.Options.Batch): for the resident engine, whose workers decide
	// many events at once. Redis has no file to fsync and ignores it, as
	// does the in-memory store.
	Batch bool
}

// Open opens the topology c describes. Errors wrap state.ErrUnavailable,
// except a password file that cannot be read.
func Open(c Config) (*state.Topology, error) {
	local, err := bolt.OpenOptions(c.Path, bolt.Options{Batch: c.Batch})
	if err != nil {
		return nil, err
	}
	if c.RedisURL == "" {
		return state.NewTopology(local, nil), nil
	}
	var password string
	if f := c.RedisPasswordFile; f != "" {
		if password, err = channels.ReadSecret("settings.state.redis.password", "", f); err != nil {
			local.Close()
			return nil, fmt.Errorf("state: %w", err)
		}
	}
	shared, err := redis.Open(c.RedisURL, password, c.Namespace)
	if err != nil {
		local.Close()
		return nil, err
	}
	return state.NewTopology(local, shared), nil
}
