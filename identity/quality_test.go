package identity_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/identity"
)

// recordIDs reads the identifiers of a generated item the way the ingest
// parsers do (raw values; phones normalised and hashed by norm).
func recordIDs(it gen.Item, norm func(typ, v string) (identity.Identifier, bool)) []identity.Identifier {
	var out []identity.Identifier
	add := func(typ, v string) {
		if id, ok := norm(typ, v); ok {
			out = append(out, id)
		}
	}
	switch it.Kind {
	case gen.KindEvent:
		var m struct {
			UserID      string `json:"userId"`
			AnonymousID string `json:"anonymousId"`
			Traits      map[string]any
			Context     struct {
				ExternalIDs []struct{ ID, Type string } `json:"externalIds"`
			}
		}
		_ = json.Unmarshal(it.Data, &m)
		add(identity.UserID, m.UserID)
		add(identity.AnonymousID, m.AnonymousID)
		if p, ok := m.Traits["phone"].(string); ok {
			add(identity.Phone, p)
		}
		for _, x := range m.Context.ExternalIDs {
			add(x.Type, x.ID)
		}
	case gen.KindOrder:
		var o struct{ Buyer map[string]string }
		_ = json.Unmarshal(it.Data, &o)
		for k, v := range o.Buyer {
			if k == "mobile" {
				k = identity.Phone
			}
			add(k, v)
		}
	case gen.KindContact:
		add(identity.WeComExternalUserID, it.Contact.ExternalUserID)
		add(identity.UnionID, it.Contact.UnionID) // as the contact API returns it
	case gen.KindChat:
		var c struct {
			From   string
			ToList []string `json:"tolist"`
			RoomID string   `json:"roomid"`
		}
		_ = json.Unmarshal(it.Data, &c)
		if c.RoomID == "" {
			for _, id := range append([]string{c.From}, c.ToList...) {
				if strings.HasPrefix(id, "wm") || strings.HasPrefix(id, "wo") {
					add(identity.WeComExternalUserID, id)
				}
			}
		}
	}
	return out
}

// resolveGenerated runs a generated data set through a graph in stream
// order and scores it against the generator's truth.
func resolveGenerated(t testing.TB, households int, rules identity.Rules) (gen.Score, *identity.Graph) {
	prot, _ := identity.NewProtector(bytes.Repeat([]byte{9}, 32))
	norm := func(typ, v string) (identity.Identifier, bool) {
		if v == "" || !identity.KnownType(typ) {
			return identity.Identifier{}, false
		}
		n, err := identity.Normalize(typ, v)
		if err != nil {
			return identity.Identifier{}, false
		}
		if typ == identity.Phone {
			n = prot.Hash(n)
		}
		return identity.Identifier{Type: typ, Value: n}, true
	}
	g := identity.NewGraph(rules)
	var ch identity.Changes
	ref := 0
	gg := gen.New(gen.Config{Seed: 11, Households: households, End: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)})
	err := gg.Each(func(it gen.Item) error {
		ref++
		g.Resolve(fmt.Sprint(ref), recordIDs(it, norm), it.Time, &ch)
		ch.Reset()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	score, err := gg.Score(func(id identity.Identifier) (string, bool) {
		n, ok := norm(id.Type, id.Value)
		if !ok {
			return "", false
		}
		p, ok := g.Lookup(n)
		return fmt.Sprint(p), ok
	})
	if err != nil {
		t.Fatal(err)
	}
	return score, g
}

// TestPrecisionAndRecallOnGeneratedHouseholds measures identity
// resolution against the generator's ground truth (pairwise: two
// identifiers of one true person should share a resolved person).
//
// Many true pairs cannot be linked from the data at all (a Douyin viewer
// who never ordered through a channel that names them), so recall is
// judged against the recall of joining every co-occurring identifier
// without rules, computed on the same data.
func TestPrecisionAndRecallOnGeneratedHouseholds(t *testing.T) {
	score, g := resolveGenerated(t, 3000, identity.DefaultRules())
	var all []identity.Rule
	for i, typ := range identity.Types {
		all = append(all, identity.Rule{Type: typ, Priority: i + 1, MayJoin: true})
	}
	joinAll, _ := identity.NewRules(all)
	bound, _ := resolveGenerated(t, 3000, joinAll)
	t.Logf("rules: precision %.4f recall %.4f (%d identifiers, %d persons); join everything: precision %.4f recall %.4f",
		score.Precision, score.Recall, score.Identifiers, g.Persons(), bound.Precision, bound.Recall)
	if score.Precision < 0.97 || score.Precision <= bound.Precision || score.Recall < 0.97*bound.Recall {
		t.Fatalf("precision %.4f recall %.4f; want precision at least 0.97 and above joining everything (%.4f), recall within 3%% of %.4f",
			score.Precision, score.Recall, bound.Precision, bound.Recall)
	}
}
