package msteams

import (
	"bytes"
	"encoding/json"
	"testing"

	"notifier/internal/apitest"
)

// The local Teams Workflows webhook the tests post to is apitest.Teams:
// it answers as Teams does and refuses, with the reason, every card that
// is not a valid Adaptive Card of its declared version (the official
// schema), so that a test passing means Teams can show the card.

const (
	teamsSig  = apitest.TeamsSignature
	teamsPath = apitest.TeamsPath
)

// teams is apitest.Teams with its accepted cards read back as Card.
type teams struct {
	*apitest.Teams
	t testing.TB
}

func newTeams(t testing.TB) *teams { return startTeams(t, apitest.NewTeams) }

// newTeamsTLS is newTeams over TLS with HTTP/2, as Teams' endpoints are;
// give RootCAs to the client.
func newTeamsTLS(t testing.TB) *teams { return startTeams(t, apitest.NewTeamsTLS) }

func startTeams(t testing.TB, start func() *apitest.Teams) *teams {
	s := start()
	t.Cleanup(s.Close)
	return &teams{Teams: s, t: t}
}

// Cards are the cards accepted so far, in order, each decoded strictly
// into Card: a field Card does not know fails the test.
func (s *teams) Cards() []Card {
	s.t.Helper()
	var out []Card
	for i, raw := range s.Teams.Cards() {
		var card Card
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&card); err != nil {
			s.t.Fatalf("accepted card %d does not decode into Card: %v\n%s", i, err, raw)
		}
		out = append(out, card)
	}
	return out
}

// LastCard is the last card accepted; the test fails when there is none.
func (s *teams) LastCard() Card {
	s.t.Helper()
	cards := s.Cards()
	if len(cards) == 0 {
		s.t.Fatalf("no card was accepted; requests: %+v", s.Requests())
	}
	return cards[len(cards)-1]
}
