package journeys

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/schema"
)

// maxTimes bounds the record times read per person.
const maxTimes = 64

// records is the subquery (person_id, at) of the records one of f's
// filters matches (an event or an order), with its parameters, at or
// after since and before until: events by name and properties at their
// time; valid orders (schema.ValidOrder) with a line of its SKUs or
// categories, on its channels, of its least amount, at ordered_at.
func records(db interface{ Table(string) string }, ev *EventFilter, ord *OrderFilter, since, until time.Time) (string, []any) {
	args := []any{named("since", since), named("until", until)}
	if ev != nil {
		q := "SELECT person_id, ts AS at FROM " + db.Table("events") + " WHERE event = {event:String} AND ts >= {since:DateTime64(3, 'UTC')} AND ts < {until:DateTime64(3, 'UTC')} AND person_id != 0"
		args = append(args, named("event", ev.Name))
		for i, w := range ev.Where {
			p, v := fmt.Sprintf("p%d", i), fmt.Sprintf("v%d", i)
			if w.Op == "contains" {
				q += fmt.Sprintf(" AND positionUTF8(JSONExtractString(properties, {%s:String}), {%s:String}) > 0", p, v)
			} else {
				q += fmt.Sprintf(" AND JSONExtractString(properties, {%s:String}) = {%s:String}", p, v)
			}
			args = append(args, named(p, w.Property), named(v, w.Value))
		}
		return "(" + q + ")", args
	}
	q := "SELECT person_id, ordered_at AS at FROM " + db.Table("orders") + " FINAL WHERE " + schema.ValidOrder +
		" AND ordered_at >= {since:DateTime64(3, 'UTC')} AND ordered_at < {until:DateTime64(3, 'UTC')} AND person_id != 0 AND amount >= {min_amount:Float64}"
	args = append(args, named("min_amount", ord.MinAmount))
	if len(ord.Channels) > 0 {
		q += " AND channel IN {channels:Array(String)}"
		args = append(args, named("channels", ord.Channels))
	}
	if len(ord.SKUs)+len(ord.Categories) > 0 {
		q += " AND (channel, order_id) IN (SELECT channel, order_id FROM " + db.Table("order_lines") +
			" FINAL WHERE sku IN {skus:Array(String)} OR category IN {categories:Array(String)})"
		args = append(args, named("skus", nonNil(ord.SKUs)), named("categories", nonNil(ord.Categories)))
	}
	return "(" + q + ")", args
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// matchRuns returns, for the runs of persons (canonical at their entry),
// the times (ascending, at most maxTimes) of the records matching ev or
// ord at or after since and before until: the records of every person id
// that belongs to the run's person now (merges after the entry
// followed).
func (s *Service) matchRuns(ctx context.Context, persons []uint32, ev *EventFilter, ord *OrderFilter, since, until time.Time) (map[uint32][]time.Time, error) {
	if len(persons) == 0 {
		return map[uint32][]time.Time{}, nil
	}
	runs := schema.Canonical(s.DB.Table("persons"), "person_id IN {persons:Array(UInt32)}")
	all := schema.Canonical(s.DB.Table("persons"), "canonical IN (SELECT canonical FROM "+runs+")")
	idOf := map[uint32]uint32{} // person id -> run person
	for _, p := range persons {
		idOf[p] = p
	}
	err := s.each(ctx, "read the runs' merged ids", "SELECT r.person_id, m.person_id FROM "+runs+" AS r INNER JOIN "+all+" AS m ON m.canonical = r.canonical",
		[]any{named("persons", persons)}, func(rows driver.Rows) error {
			var r, id uint32
			if err := rows.Scan(&r, &id); err != nil {
				return err
			}
			idOf[id] = r
			return nil
		})
	if err != nil {
		return nil, err
	}
	ids := make([]uint32, 0, len(idOf))
	for id := range idOf {
		ids = append(ids, id)
	}
	recs, args := records(s.DB, ev, ord, since, until)
	out := map[uint32][]time.Time{}
	err = s.each(ctx, "read matching records", "SELECT person_id, arraySort(groupArray("+fmt.Sprint(maxTimes)+")(at)) FROM "+recs+
		" WHERE person_id IN {ids:Array(UInt32)} GROUP BY person_id", append(args, named("ids", ids)), func(rows driver.Rows) error {
		var id uint32
		var at []time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return err
		}
		r := idOf[id]
		out[r] = append(out[r], at...)
		return nil
	})
	return out, err
}

// matchPersons returns the canonical persons (among ids, person ids
// before merges; nil: everyone) with records matching ev or ord at or
// after since and before until, with their latest record's time.
func (s *Service) matchPersons(ctx context.Context, ids []uint32, ev *EventFilter, ord *OrderFilter, since, until time.Time) (map[uint32]time.Time, error) {
	recs, args := records(s.DB, ev, ord, since, until)
	cond := ""
	if ids != nil {
		if len(ids) == 0 {
			return map[uint32]time.Time{}, nil
		}
		cond = "person_id IN {ids:Array(UInt32)}"
		recs = "(SELECT * FROM " + recs + " WHERE " + cond + ")"
		args = append(args, named("ids", ids))
	}
	out := map[uint32]time.Time{}
	err := s.each(ctx, "read who a record enters", "SELECT p.canonical, max(o.at) FROM "+recs+" AS o INNER JOIN "+
		schema.Canonical(s.DB.Table("persons"), cond)+" AS p ON p.person_id = o.person_id GROUP BY p.canonical", args, func(rows driver.Rows) error {
		var p uint32
		var at time.Time
		if err := rows.Scan(&p, &at); err != nil {
			return err
		}
		out[p] = at
		return nil
	})
	return out, err
}

// traitDates reads a date trait (Wait.UntilTrait) of persons: the date in
// Beijing; persons without it are absent.
func (s *Service) traitDates(ctx context.Context, trait string, persons []uint32) (map[uint32]time.Time, error) {
	var q string
	args := []any{named("persons", persons)}
	switch trait {
	case TraitNextPurchaseRice, TraitNextPurchaseOil:
		q = "SELECT person_id, next_purchase FROM " + s.DB.Table("person_next_purchase") + " WHERE kind = {kind:String} AND person_id IN {persons:Array(UInt32)}"
		args = append(args, named("kind", strings.TrimPrefix(trait, "next_purchase_")))
	case TraitLastOrder, TraitFirstSeen:
		col := map[string]string{TraitLastOrder: "last_order_at", TraitFirstSeen: "first_seen"}[trait]
		q = "SELECT person_id, " + schema.BeijingDate("assumeNotNull("+col+")") + " FROM " + s.DB.Table("person_traits") + " WHERE person_id IN {persons:Array(UInt32)} AND " + col + " IS NOT NULL"
	default:
		return nil, fmt.Errorf("journeys: unknown date trait %q", trait)
	}
	out := map[uint32]time.Time{}
	err := s.each(ctx, "read a date trait", q, args, func(rows driver.Rows) error {
		var p uint32
		var d time.Time
		if err := rows.Scan(&p, &d); err != nil {
			return err
		}
		out[p] = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, schema.Beijing)
		return nil
	})
	return out, err
}
