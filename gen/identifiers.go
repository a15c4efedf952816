package gen

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/granarycdp/cdp/identity"
)

// Identifiers returns the identifiers an item carries as the platform's
// ingest reads them (raw values: phones as 11 digits; placeholders left
// out): for resolving generated data without the HTTP path, as the
// benchmarks and the identity quality test do.
func (it Item) Identifiers() []identity.Identifier {
	var out []identity.Identifier
	add := func(typ, v string) {
		if v != "" && !identity.Blocked(v) {
			out = append(out, identity.Identifier{Type: typ, Value: v})
		}
	}
	switch it.Kind {
	case KindEvent:
		var m struct {
			UserID      string            `json:"userId"`
			AnonymousID string            `json:"anonymousId"`
			Traits      map[string]string `json:"traits"`
			Context     struct {
				ExternalIDs []struct{ ID, Type string } `json:"externalIds"`
			} `json:"context"`
		}
		_ = json.Unmarshal(it.Data, &m)
		add(identity.UserID, m.UserID)
		add(identity.AnonymousID, m.AnonymousID)
		add(identity.Phone, m.Traits["phone"])
		for _, x := range m.Context.ExternalIDs {
			add(x.Type, x.ID)
		}
	case KindOrder:
		var o struct {
			Buyer map[string]string `json:"buyer"`
		}
		_ = json.Unmarshal(it.Data, &o)
		for k, v := range o.Buyer {
			add(k, v) // buyer keys are identifier types
		}
	case KindContact:
		add(identity.WeComExternalUserID, it.Contact.ExternalUserID)
		add(identity.UnionID, it.Contact.UnionID) // as externalcontact/get returns it
	case KindChat:
		var c struct {
			From   string   `json:"from"`
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

// Resolution is the outcome of resolving a generated data set in memory.
type Resolution struct {
	Records int
	Graph   *identity.Graph
	Score   Score
}

// Resolve runs the whole stream through a fresh identity graph in stream
// order (phones normalised and protected with prot, as ingest does) and
// scores the persons against the truth.
func (g *Generator) Resolve(rules identity.Rules, prot *identity.Protector) (Resolution, error) {
	norm := func(id identity.Identifier) (identity.Identifier, bool) {
		if !identity.KnownType(id.Type) {
			return id, false
		}
		v, err := identity.Normalize(id.Type, id.Value)
		if err != nil {
			return id, false
		}
		if id.Type == identity.Phone {
			v = prot.Hash(v)
		}
		return identity.Identifier{Type: id.Type, Value: v}, true
	}
	res := Resolution{Graph: identity.NewGraph(rules)}
	var ch identity.Changes
	ids := make([]identity.Identifier, 0, 8)
	err := g.Each(func(it Item) error {
		ids = ids[:0]
		for _, id := range it.Identifiers() {
			if n, ok := norm(id); ok {
				ids = append(ids, n)
			}
		}
		res.Records++
		res.Graph.Resolve("", ids, it.Time, &ch)
		ch.Reset()
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Score, err = g.Score(func(id identity.Identifier) (string, bool) {
		n, ok := norm(id)
		if !ok {
			return "", false
		}
		p, ok := res.Graph.Lookup(n)
		return strconv.FormatUint(uint64(p), 10), ok
	})
	return res, err
}
