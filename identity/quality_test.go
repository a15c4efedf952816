package identity_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/identity"
)

func resolveGenerated(t testing.TB, households int, rules identity.Rules) gen.Resolution {
	prot, _ := identity.NewProtector(bytes.Repeat([]byte{9}, 32))
	g := gen.New(gen.Config{Seed: 11, Households: households, End: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)})
	res, err := g.Resolve(rules, prot)
	if err != nil {
		t.Fatal(err)
	}
	return res
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
	res := resolveGenerated(t, 3000, identity.DefaultRules())
	var all []identity.Rule
	for i, typ := range identity.Types {
		all = append(all, identity.Rule{Type: typ, Priority: i + 1, MayJoin: true})
	}
	joinAll, _ := identity.NewRules(all)
	bound := resolveGenerated(t, 3000, joinAll).Score
	score := res.Score
	t.Logf("rules: precision %.4f recall %.4f (%d identifiers, %d persons); join everything: precision %.4f recall %.4f",
		score.Precision, score.Recall, score.Identifiers, res.Graph.Persons(), bound.Precision, bound.Recall)
	if score.Precision < 0.97 || score.Precision <= bound.Precision || score.Recall < 0.97*bound.Recall {
		t.Fatalf("precision %.4f recall %.4f; want precision at least 0.97 and above joining everything (%.4f), recall within 3%% of %.4f",
			score.Precision, score.Recall, bound.Precision, bound.Recall)
	}
}
