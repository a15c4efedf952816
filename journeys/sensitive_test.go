package journeys

import (
	"testing"
	"time"

	"github.com/granarycdp/cdp/campaigns"
)

// TestSensitiveBranchNeedsSeparateConsent: after a branch on a health
// interest (chat("血糖", 30)) a send reaches only the persons with separate
// consent, whichever way they went, as after a sensitive entry segment;
// the send before the branch, and the sends of a journey whose branch
// reads nothing sensitive, reach everyone.
func TestSensitiveBranchNeedsSeparateConsent(t *testing.T) {
	f := newFixture(t, 10)
	var consents [][]any
	for p := uint32(1); p <= 3; p++ {
		consents = append(consents, []any{p, "*", campaigns.KindSensitiveConsent, uint8(1), "paper_form", start.Add(-time.Hour)})
	}
	f.insert("consents", "person_id, channel, kind, granted, source, ts", consents)
	branch := func(cond string) Node {
		return Node{ID: "b", Type: NodeBranch, Branch: &Branch{Condition: cond, Yes: "yes", No: "no"}}
	}
	sensitive := f.launch(f.segmentJourney(f.send("first", "b"), branch(`chat("血糖", 30)`), f.send("yes", "out"), f.send("no", "out"), exit("out")))
	plain := f.launch(f.segmentJourney(branch(`did("video_complete", 30) >= 1`), f.send("yes", "out"), f.send("no", "out"), exit("out")))
	f.round()
	for _, c := range []struct {
		j    Journey
		node string
		want int
	}{{sensitive, "first", 10}, {sensitive, "no", 3}, {sensitive, "yes", 0}, {plain, "yes", 10}, {plain, "no", 0}} {
		if got := f.outbox(c.j, c.node); got != c.want {
			t.Errorf("journey %s node %s: %d messages, want %d", c.j.ID, c.node, got, c.want)
		}
	}
	excluded := f.count("SELECT count() FROM "+f.db.Table("journey_steps")+" FINAL WHERE journey_id = ? AND node = 'no' AND outcome = ?",
		sensitive.ID, "excluded:"+campaigns.ReasonSensitive)
	if excluded != 7 {
		t.Errorf("%d runs excluded at the send after the sensitive branch for want of consent, want 7", excluded)
	}
	if done := f.runs(sensitive, stateDone, "out"); done != 10 {
		t.Errorf("%d runs ended, want 10: a run without consent goes on without the message", done)
	}
}
