package journeys

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/schema"
)

// replenishEvery is how often a replenishment journey looks for
// households coming due (the prediction is a view over every order line).
const replenishEvery = time.Hour

// candidates are persons an entry may admit, each with the time of what
// enters them (a record's time, a schedule's time, a due window's start;
// zero for a segment entry): a person whose last run entered at or after
// it was entered by it already.
type candidates map[uint32]int64

// enter admits the persons the journey's entry names this round.
func (s *Service) enter(ctx context.Context, lj *live, in *inbox, now time.Time) error {
	if lj.st.Status != StatusRunning {
		return nil
	}
	c, err := s.version(ctx, lj, lj.st.Version)
	if err != nil {
		return err
	}
	e := c.def.Entry
	cand, cause := candidates{}, e.Type
	switch e.Type {
	case EntrySegment:
		if e.IncludeCurrent && lj.st.firedAt.Before(lj.st.LaunchedAt) {
			if err := s.enterCurrent(ctx, lj, c, now); err != nil {
				return err
			}
		}
		if bm := in.entered[e.SegmentID]; bm != nil {
			for _, p := range bm.ToArray() {
				cand[p] = 0
			}
		}
		if in.all {
			err = s.loggedEntries(ctx, e.SegmentID, lj.st.LaunchedAt, cand)
		}
	case EntryEvent, EntryOrder:
		cand, err = s.recordCandidates(ctx, lj, e, in, now)
	case EntrySchedule:
		return s.enterSchedule(ctx, lj, c, now)
	case EntryDemandSurge:
		return nil // entered as alerts are handed over (DemandSurge)
	case EntryReplenishment:
		if now.Sub(lj.replenishedAt) < replenishEvery {
			return nil
		}
		if cand, err = s.dueCandidates(ctx, e, now); err == nil {
			lj.replenishedAt = now
		}
	}
	if err != nil {
		return err
	}
	if e.SegmentID != "" && e.Type != EntrySegment {
		members, err := s.Segments.Members(e.SegmentID)
		if err != nil {
			return err
		}
		for p := range cand {
			if !members.Contains(p) {
				delete(cand, p)
			}
		}
	}
	_, err = s.admit(ctx, lj, c, cand, cause, now)
	return err
}

// loggedEntries adds to cand the persons who entered the segment after the
// launch instant and are still members (segments.Store.EnteredSince, which
// says why a catch-up round after a start needs them), each with the time
// of their latest entry, unless cand has them. admit skips those whose last
// run entered at or after their entry.
func (s *Service) loggedEntries(ctx context.Context, segment string, since time.Time, cand candidates) error {
	logged, err := s.Segments.EnteredSince(ctx, segment, since)
	for p, at := range logged {
		if _, queued := cand[p]; !queued {
			cand[p] = at.UnixMilli()
		}
	}
	return err
}

// recordCandidates are the persons with an event or order matching the
// entry since the launch, among those records touched this round (all
// after a start), each with their latest matching record's time.
func (s *Service) recordCandidates(ctx context.Context, lj *live, e Entry, in *inbox, now time.Time) (candidates, error) {
	touched := in.events
	if e.Type == EntryOrder {
		touched = in.orders
	}
	var ids []uint32
	switch {
	case in.all:
	case touched == nil || touched.IsEmpty():
		return nil, nil
	default:
		ids = touched.ToArray()
	}
	got, err := s.matchPersons(ctx, ids, e.Event, e.Order, lj.st.LaunchedAt, now.Add(time.Minute))
	cand := candidates{}
	for p, at := range got {
		cand[p] = at.UnixMilli()
	}
	return cand, err
}

// dueCandidates are the households whose predicted next purchase of the
// entry's kind falls within LeadDays from today (Beijing), each with the
// start of that window: entered once per predicted date.
func (s *Service) dueCandidates(ctx context.Context, e Entry, now time.Time) (candidates, error) {
	today := now.In(schema.Beijing)
	cand := candidates{}
	err := s.each(ctx, "read households due for replenishment", "SELECT person_id, next_purchase FROM "+s.DB.Table("person_next_purchase")+
		" WHERE kind = {kind:String} AND next_purchase BETWEEN {from:Date} AND {to:Date}",
		[]any{named("kind", e.ReplenishKind), named("from", today.Format(time.DateOnly)), named("to", today.AddDate(0, 0, e.LeadDays).Format(time.DateOnly))},
		func(rows driver.Rows) error {
			var p uint32
			var d time.Time
			if err := rows.Scan(&p, &d); err != nil {
				return err
			}
			start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, schema.Beijing).AddDate(0, 0, -e.LeadDays-1)
			cand[p] = start.UnixMilli()
			return nil
		})
	return cand, err
}

// enterSchedule enters the segment's members when the schedule's latest
// time up to now is after the last one fired, then records it fired (a
// crash in between fires it again: the persons it entered are not
// entered twice, their run having entered at or after its time).
func (s *Service) enterSchedule(ctx context.Context, lj *live, c *compiled, now time.Time) error {
	after := lj.st.firedAt
	if after.Before(lj.st.LaunchedAt) {
		after = lj.st.LaunchedAt // the first time is after the launch
	}
	due, ok := lastFire(*c.def.Entry.Schedule, after, now)
	if !ok {
		return nil
	}
	members, err := s.Segments.Members(c.def.Entry.SegmentID)
	if err != nil {
		return err
	}
	cand := candidates{}
	for _, p := range members.ToArray() {
		cand[p] = due.UnixMilli()
	}
	if _, err := s.admit(ctx, lj, c, cand, "schedule:"+due.Format(time.RFC3339), now); err != nil {
		return err
	}
	st := lj.st
	st.firedAt = due
	if err := s.writeState(ctx, st, "schedule"); err != nil {
		return err
	}
	lj.st = st
	return nil
}

// enterCurrent enters a segment entry's members at its launch, once:
// then it records them entered (fired_at = the launch). A crash in between
// enters them again at the next start, except those whose run entered
// after the launch already.
func (s *Service) enterCurrent(ctx context.Context, lj *live, c *compiled, now time.Time) error {
	members, err := s.Segments.Members(c.def.Entry.SegmentID)
	if err != nil {
		return err
	}
	cand := candidates{}
	for _, p := range members.ToArray() {
		cand[p] = lj.st.LaunchedAt.UnixMilli()
	}
	if _, err := s.admit(ctx, lj, c, cand, "segment", now); err != nil {
		return err
	}
	st := lj.st
	st.firedAt = st.LaunchedAt
	if err := s.writeState(ctx, st, "launch"); err != nil {
		return err
	}
	lj.st = st
	return nil
}

// lastFire is the schedule's latest time after fired and at or before
// now, in Beijing; false when there is none.
func lastFire(sc Schedule, fired, now time.Time) (time.Time, bool) {
	minutes, _ := clock(sc.At)
	b := now.In(schema.Beijing)
	var t time.Time
	switch sc.Every {
	case "once":
		d, _ := time.ParseInLocation(time.DateOnly, sc.Date, schema.Beijing)
		t = d.Add(time.Duration(minutes) * time.Minute)
	case "day", "week":
		t = time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, schema.Beijing).Add(time.Duration(minutes) * time.Minute)
		for t.After(now) || (sc.Every == "week" && int(t.Weekday()) != sc.Weekday) {
			t = t.AddDate(0, 0, -1)
		}
	}
	return t, !t.After(now) && t.After(fired)
}

// admit enters candidates who may enter: no active run of the journey,
// the re-entry policy allows it, and not entered by the same cause
// already. Each is drawn into the journey's holdout or not by a stable
// hash (campaigns.Bucket); a holdout run ends at once (it counts in the
// results, nothing is sent), a treatment run is ready at the first node.
// It returns how many entered.
func (s *Service) admit(ctx context.Context, lj *live, c *compiled, cand candidates, cause string, now time.Time) (int, error) {
	for p := range cand {
		if _, active := lj.runs[p]; active {
			delete(cand, p)
		}
	}
	if len(cand) == 0 {
		return 0, nil
	}
	last, err := s.lastRuns(ctx, lj.st.ID, cand)
	if err != nil {
		return 0, err
	}
	st, nowMS := c.def.Settings, now.UnixMilli()
	first := c.index[c.def.Entry.Next]
	var moves []move
	for _, p := range sortedKeys(cand) {
		l, ran := last[p]
		switch {
		case ran && st.ReEntry == ReEntryNever:
			continue
		case ran && st.ReEntry == ReEntryAfterDays && nowMS < l.ended+int64(st.ReEntryDays)*24*3600*1000:
			continue
		case ran && cand[p] != 0 && l.entered >= cand[p]:
			continue // entered by this record, schedule time or due date already
		}
		r := run{entry: l.entry + 1, seq: 1, version: c.version, node: first, entered: nowMS, since: nowMS}
		m := move{person: p, r: r, node: "entry", typ: "entry", outcome: "entered", detail: cause}
		if float64(campaigns.Bucket("journey-holdout:"+lj.st.ID, p)) < st.HoldoutPercent*100 {
			m.done, m.exit, m.outcome = true, ExitHoldout, GroupHoldout
		}
		moves = append(moves, m)
	}
	for i := 0; i < len(moves); i += s.batch() {
		if err := s.apply(ctx, lj, moves[i:min(i+s.batch(), len(moves))]); err != nil {
			return i, err
		}
	}
	return len(moves), nil
}

// lastRun is what admit needs of a person's last run of a journey.
type lastRun struct {
	entry          uint32
	entered, ended int64
}

// narrowRuns is the most candidates lastRuns names in its query; for more
// it reads the journey's runs whole and keeps the candidates'.
const narrowRuns = 20_000

// lastRuns reads the last run of each candidate who ran the journey.
func (s *Service) lastRuns(ctx context.Context, id string, cand candidates) (map[uint32]lastRun, error) {
	persons := roaring.New()
	for p := range cand {
		persons.Add(p)
	}
	cond, args := "1", []any{named("id", id)}
	if len(cand) <= narrowRuns {
		cond, args = "person_id IN {persons:Array(UInt32)}", append(args, named("persons", persons.ToArray()))
	}
	out := map[uint32]lastRun{}
	err := s.each(ctx, "read the last runs", "SELECT person_id, max(entry), argMax(entered_at, entry), argMax(updated_at, entry) FROM "+
		s.DB.Table("journey_runs")+" FINAL WHERE journey_id = {id:String} AND "+cond+" GROUP BY person_id",
		args, func(rows driver.Rows) error {
			var p uint32
			var l lastRun
			var entered, ended time.Time
			if err := rows.Scan(&p, &l.entry, &entered, &ended); err != nil {
				return err
			}
			l.entered, l.ended = entered.UnixMilli(), ended.UnixMilli()
			if persons.Contains(p) {
				out[p] = l
			}
			return nil
		})
	return out, err
}

func sortedKeys(c candidates) []uint32 {
	bm := roaring.New()
	for p := range c {
		bm.Add(p)
	}
	return bm.ToArray()
}
