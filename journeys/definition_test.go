package journeys

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/campaigns"
)

// TestBadDefinitionsPointAtTheNode: each bad definition is refused with a
// field naming the node (and its field) that is wrong, and nothing is
// written.
func TestBadDefinitionsPointAtTheNode(t *testing.T) {
	f := newFixture(t, 1)
	waitFor := func(happened, timedOut, timeout string) Node {
		return Node{ID: "w", Type: NodeWaitFor, WaitFor: &WaitFor{Order: &OrderFilter{}, Timeout: timeout, Happened: happened, TimedOut: timedOut}}
	}
	noOffer := f.send("s", "out")
	noOffer.Send.OfferID = ""
	for _, tc := range []struct {
		name  string
		nodes []Node
		field string
	}{
		{"a cycle", []Node{f.send("a", "b"), {ID: "b", Type: NodeWait, Next: "a", Wait: &Wait{Duration: "1h"}}}, "nodes.b.next"},
		{"a dangling edge", []Node{f.send("a", "nowhere")}, "nodes.a.next"},
		{"a wait without a timeout branch", []Node{waitFor("out", "", "3d"), exit("out")}, "nodes.w.wait_for.timed_out"},
		{"a wait-for without a timeout", []Node{waitFor("out", "out", ""), exit("out")}, "nodes.w.wait_for.timeout"},
		{"a send without an offer", []Node{noOffer, exit("out")}, "nodes.s.send.offer_id"},
		{"a send naming an unknown offer", []Node{func() Node { n := f.send("s", "out"); n.Send.OfferID = "off_x"; return n }(), exit("out")}, "nodes.s.send.offer_id"},
		{"a send on an unknown channel", []Node{func() Node { n := f.send("s", "out"); n.Send.Channel = "pigeon"; return n }(), exit("out")}, "nodes.s.send.channel"},
		{"a send on a group channel", []Node{func() Node { n := f.send("s", "out"); n.Send.Channel = "robot"; return n }(), exit("out")}, "nodes.s.send.channel"},
		{"a branch on a bad condition", []Node{{ID: "b", Type: NodeBranch, Branch: &Branch{Condition: "did(", Yes: "out", No: "out"}}, exit("out")}, "nodes.b.branch.condition"},
		{"a split not summing to 100", []Node{{ID: "ab", Type: NodeSplit, Split: &Split{Arms: []SplitArm{{Name: "A", Percent: 50, Next: "out"}, {Name: "B", Percent: 40, Next: "out"}}}}, exit("out")}, "nodes.ab.split.arms"},
		{"an unreachable node", []Node{exit("out"), exit("lost")}, "nodes.lost"},
		{"two nodes with one id", []Node{f.send("a", "a2"), exit("a")}, "nodes.a.id"},
		{"a wait of two kinds", []Node{{ID: "p", Type: NodeWait, Next: "out", Wait: &Wait{Duration: "1h", UntilTime: "09:00"}}, exit("out")}, "nodes.p.wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Save(f.ctx, "", f.segmentJourney(tc.nodes...), "tok_test")
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error %v, want a field error at %s", err, tc.field)
			}
		})
	}
	if n := f.count("SELECT count() FROM " + f.db.Table("journey_versions")); n != 0 {
		t.Fatalf("%d versions written by refused definitions", n)
	}
}

// TestEditMakesAVersionAndRunsStayUnlessMapped: an edit of a running
// journey is a new version; runs waiting on version 1 finish on version 1
// unless a mapping moves them, and a moved run keeps when its wait began.
func TestEditMakesAVersionAndRunsStayUnlessMapped(t *testing.T) {
	f := newFixture(t, 10)
	d := f.segmentJourney(Node{ID: "pause", Type: NodeWait, Next: "first", Wait: &Wait{Duration: "2d"}}, f.send("first", "out"), exit("out"))
	j := f.launch(d)
	f.round()
	d.Nodes[1] = f.send("second", "out")
	d.Nodes[0].Next = "second"
	j2, err := f.svc.Save(f.ctx, j.ID, d, "tok_test")
	if err != nil {
		t.Fatal(err)
	}
	if j2.Version != 2 || j2.Status != StatusRunning {
		t.Fatalf("after the edit: version %d, %s", j2.Version, j2.Status)
	}
	vs, err := f.svc.Versions(f.ctx, j.ID)
	if err != nil || len(vs) != 2 || vs[0].Definition.Nodes[1].ID != "first" {
		t.Fatalf("versions %+v, %v", vs, err)
	}
	if _, err := f.svc.Migrate(f.ctx, j.ID, Mapping{FromVersion: 1, ToVersion: 2, Nodes: map[string]string{"pause": "nowhere"}}, "tok_test"); err == nil {
		t.Fatal("a mapping to a node version 2 lacks was taken")
	}
	// Move half: persons 1..5 are moved by mapping their node; to do that
	// for some only, stop the others first (they end "stopped" later).
	f.advance(24 * time.Hour)
	moved, err := f.svc.Migrate(f.ctx, j.ID, Mapping{FromVersion: 1, ToVersion: 2, Nodes: map[string]string{"pause": "pause"}}, "tok_test")
	if err != nil || moved != 10 {
		t.Fatalf("moved %d, %v; want 10", moved, err)
	}
	f.advance(24*time.Hour - time.Minute)
	if n := f.count("SELECT count() FROM "+f.db.Table("campaign_outbox")+" WHERE startsWith(campaign_id, ?)", j.ID); n != 0 {
		t.Fatalf("%d sent before the original wait ended", n)
	}
	f.advance(time.Minute)
	if got, old := f.outbox(j2, "second"), f.outbox(j, "first"); got != 10 || old != 0 {
		t.Fatalf("after the wait: %d sent by version 2's node, %d by version 1's; want 10 and 0", got, old)
	}
}

// TestRunsStayOnTheirVersion: without a mapping, runs in flight finish on
// version 1 while new entrants run version 2.
func TestRunsStayOnTheirVersion(t *testing.T) {
	f := newFixture(t, 6)
	d := f.segmentJourney(Node{ID: "pause", Type: NodeWait, Next: "first", Wait: &Wait{Duration: "1d"}}, f.send("first", "out"), exit("out"))
	d.Entry.IncludeCurrent = false
	j := f.launch(d)
	f.svc.SegmentChanged(segmentChange(f.seg, 1, 2, 3))
	f.round()
	d.Nodes[1], d.Nodes[0].Next = f.send("second", "out"), "second"
	j2, err := f.svc.Save(f.ctx, j.ID, d, "tok_test")
	if err != nil {
		t.Fatal(err)
	}
	f.svc.SegmentChanged(segmentChange(f.seg, 4, 5))
	f.round()
	f.advance(24 * time.Hour)
	if old, now := f.outbox(j, "first"), f.outbox(j2, "second"); old != 3 || now != 2 {
		t.Fatalf("version 1 sent %d, version 2 sent %d; want 3 and 2", old, now)
	}
}

// TestBadDemandSurgeEntriesNameTheField: a demand_surge entry without its
// segment, its surge filter or the filter's class, with an over-long
// region, or a surge filter on another entry is refused naming the field.
func TestBadDemandSurgeEntriesNameTheField(t *testing.T) {
	f := newFixture(t, 1)
	long := strings.Repeat("川", 65)
	for _, tc := range []struct {
		name  string
		entry func(e *Entry)
		field string
	}{
		{"no segment", func(e *Entry) { e.SegmentID = "" }, "entry.segment_id"},
		{"no surge filter", func(e *Entry) { e.Surge = nil }, "entry.surge"},
		{"no class", func(e *Entry) { e.Surge.Class = "  " }, "entry.surge.class"},
		{"a city too long", func(e *Entry) { e.Surge.City = long }, "entry.surge.city"},
		{"a surge filter on a segment entry", func(e *Entry) { e.Type = EntrySegment }, "entry.surge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := f.segmentJourney(exit("out"))
			d.Entry = Entry{Type: EntryDemandSurge, SegmentID: f.seg, Surge: &campaigns.SurgeFilter{Class: "高油酸花生油", Province: "四川"}, Next: "out"}
			tc.entry(&d.Entry)
			_, err := f.svc.Save(f.ctx, "", d, "tok_test")
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error %v, want a field error at %s", err, tc.field)
			}
		})
	}
	d := f.segmentJourney(exit("out"))
	d.Entry = Entry{Type: EntryDemandSurge, SegmentID: f.seg, Surge: &campaigns.SurgeFilter{Class: " 高油酸花生油 ", City: "成都"}, Next: "out"}
	j, err := f.svc.Save(f.ctx, "", d, "tok_test")
	if err != nil || j.Entry.Surge.Class != "高油酸花生油" {
		t.Fatalf("a good demand-surge entry: %+v, %v", j.Entry, err)
	}
}
