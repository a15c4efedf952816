package journeys

import (
	"fmt"
	"testing"
	"time"
)

// entryJourney is a journey with entry e that waits a day and exits.
func (f *fixture) entryJourney(e Entry) Definition {
	e.Next = "pause"
	d := f.segmentJourney(Node{ID: "pause", Type: NodeWait, Next: "out", Wait: &Wait{Duration: "1d"}}, exit("out"))
	d.Entry = e
	d.Settings.ReEntry = ReEntryAfterExit
	return d
}

func (f *fixture) entered(j Journey) int {
	return f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ?", j.ID)
}

// TestEventEntryWithFilter: a search for 低GI after the launch enters the
// person once (a later round and a restart do not enter them again); a
// search for something else, or one before the launch, does not.
func TestEventEntryWithFilter(t *testing.T) {
	f := newFixture(t, 5)
	search := func(id string, p uint32, kw string, at time.Time) []any {
		return []any{id, "track", "search", at, at, "douyin", p, fmt.Sprintf(`{"keyword":%q}`, kw)}
	}
	f.insert("events", "message_id, type, event, ts, received_at, source, person_id, properties", [][]any{search("old", 1, "低GI", start.Add(-time.Hour))})
	j := f.launch(f.entryJourney(Entry{Type: EntryEvent, Event: &EventFilter{Name: "search", Where: []PropertyFilter{{Property: "keyword", Op: "contains", Value: "低GI"}}}}))
	f.clock.Advance(time.Minute)
	now := f.clock.Now()
	f.insert("events", "message_id, type, event, ts, received_at, source, person_id, properties",
		[][]any{search("a", 2, "低GI大米", now), search("b", 3, "五常", now)})
	f.svc.Touched([]uint32{2, 3}, []string{"events"})
	f.round()
	f.svc.Touched([]uint32{2, 3}, []string{"events"})
	f.round()
	f.svc = f.service()
	f.round()
	if got := f.entered(j); got != 1 {
		t.Fatalf("%d runs entered, want 1 (person 2)", got)
	}
}

// TestOrderEntry: an order matching the filter enters its buyer.
func TestOrderEntry(t *testing.T) {
	f := newFixture(t, 5)
	j := f.launch(f.entryJourney(Entry{Type: EntryOrder, Order: &OrderFilter{Categories: []string{"花生油"}, MinAmount: 10}}))
	f.clock.Advance(time.Minute)
	f.order(4, "HS-5", "花生油", f.clock.Now())
	f.order(5, "WC-5", "五常大米", f.clock.Now())
	f.svc.Touched([]uint32{4, 5}, []string{"orders", "order_lines"})
	f.round()
	if got := f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND person_id = 4", j.ID); got != 1 || f.entered(j) != 1 {
		t.Fatalf("%d runs, want person 4's only", f.entered(j))
	}
}

// TestScheduleEntry: a daily 09:00 schedule enters the segment's members
// at the first 09:00 after the launch (not the one before it), once per
// day, and a member still in a run is not entered again.
func TestScheduleEntry(t *testing.T) {
	f := newFixture(t, 3)
	d := f.entryJourney(Entry{Type: EntrySchedule, SegmentID: f.seg, Schedule: &Schedule{Every: "day", At: "09:00"}})
	j := f.launch(d) // 11:00
	f.round()
	if got := f.entered(j); got != 0 {
		t.Fatalf("%d entered before the first 09:00 after the launch", got)
	}
	f.advance(22 * time.Hour) // 09:00 next day
	if got := f.entered(j); got != 3 {
		t.Fatalf("%d entered at 09:00, want 3", got)
	}
	f.advance(time.Hour)
	f.svc = f.service()
	f.round()
	if got := f.entered(j); got != 3 {
		t.Fatalf("%d runs after a restart the same day, want 3", got)
	}
	f.advance(23 * time.Hour) // 09:00 the day after: the runs ended at 09:00
	if got := f.entered(j); got != 6 {
		t.Fatalf("%d runs after the second 09:00, want 6", got)
	}
}

// TestReplenishmentEntry: a household whose next rice purchase falls
// within the lead days enters once per predicted date, however often the
// entry looks.
func TestReplenishmentEntry(t *testing.T) {
	f := newFixture(t, 3)
	f.order(1, "WC-5", "五常大米", start.Add(-22*24*time.Hour))
	f.order(1, "WC-5", "五常大米", start.Add(-2*24*time.Hour)) // next: in 18 days
	f.order(2, "WC-5", "五常大米", start.Add(-40*24*time.Hour))
	f.order(2, "WC-5", "五常大米", start.Add(-20*24*time.Hour)) // next: today
	j := f.launch(f.entryJourney(Entry{Type: EntryReplenishment, ReplenishKind: "rice", LeadDays: 3}))
	f.round()
	if got := f.entered(j); got != 1 {
		t.Fatalf("%d households entered, want 1 (person 2)", got)
	}
	f.advance(2 * time.Hour) // the run ended; an hour passed: the entry looks again
	if got := f.entered(j); got != 1 {
		t.Fatalf("%d runs after the entry looked again, want 1", got)
	}
}
