package identity

import (
	"context"
	"time"

	"github.com/granarycdp/cdp/schema"
)

// MaxSummaries is the most persons one call to Summaries describes.
const MaxSummaries = 100

// PersonSummary is a line about a person for member lists: phones masked
// to their last four digits.
type PersonSummary struct {
	PersonID  uint32    `json:"person_id"`
	Name      string    `json:"name,omitempty"`  // WeCom name
	Phone     string    `json:"phone,omitempty"` // masked
	City      string    `json:"city,omitempty"`
	Orders    uint64    `json:"orders"`
	Spend     float64   `json:"spend"`
	LastOrder time.Time `json:"last_order,omitzero"`
}

// summaries is the state of one Summaries call: every person id of the
// persons asked for, the canonical person each belongs to, and the lines
// being filled.
type summaries struct {
	all   []uint32
	owner map[uint32]uint32 // person id -> canonical person asked for
	byID  map[uint32]*PersonSummary
}

// of is the line of the canonical person a person id belongs to; nil for
// an id not asked for.
func (sm *summaries) of(p uint32) *PersonSummary { return sm.byID[sm.owner[p]] }

// Summaries describes the canonical persons of ids (e.g. an estimate's
// sample), each once, in the order first asked for, over the records of
// every person merged into them: a masked phone, the WeCom name, the city
// of the latest order that names one, and the count, spend and time of
// valid orders (schema.ValidOrder). An id the graph does not know gives a
// line with only its id. The caller bounds ids (MaxSummaries).
func (s *Service) Summaries(ctx context.Context, ids []uint32) ([]*PersonSummary, error) {
	sm := &summaries{owner: map[uint32]uint32{}, byID: map[uint32]*PersonSummary{}}
	out := make([]*PersonSummary, 0, len(ids))
	for _, id := range ids {
		root := s.Graph.Canonical(id)
		if sm.byID[root] != nil {
			continue
		}
		ps := &PersonSummary{PersonID: root}
		sm.byID[root] = ps
		out = append(out, ps)
		for _, p := range s.Graph.Cluster(root) {
			sm.owner[p] = root
			sm.all = append(sm.all, p)
		}
	}
	if len(sm.all) == 0 {
		return out, nil
	}
	for _, step := range []func(context.Context, *summaries) error{s.summaryPhones, s.summaryNames, s.summaryOrders} {
		if err := step(ctx, sm); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// summaryPhones gives each line the mask of one of its phones.
func (s *Service) summaryPhones(ctx context.Context, sm *summaries) error {
	return s.summaryText(ctx, sm, "summaries: read phones", `SELECT l.person_id, any(v.masked)
		FROM `+s.DB.Table("identity_links")+` AS l FINAL
		INNER JOIN `+schema.Vault(s.DB.Table("pii_vault"), "")+` AS v ON v.hash = l.id_value
		WHERE l.person_id IN ? AND l.id_type = 'phone' GROUP BY l.person_id`,
		func(ps *PersonSummary, masked string) {
			if ps.Phone == "" {
				ps.Phone = MaskPhone(masked)
			}
		})
}

// summaryNames gives each line the latest WeCom name of one of its persons.
func (s *Service) summaryNames(ctx context.Context, sm *summaries) error {
	return s.summaryText(ctx, sm, "summaries: read names", `SELECT person_id, argMax(name, ts) FROM `+s.DB.Table("wecom_contact_events")+
		` WHERE person_id IN ? AND name != '' GROUP BY person_id`,
		func(ps *PersonSummary, name string) {
			if ps.Name == "" {
				ps.Name = name
			}
		})
}

// summaryText runs query, named name, over the persons of sm: it answers
// (person id, text) rows, and set puts each text on its person's line.
func (s *Service) summaryText(ctx context.Context, sm *summaries, name, query string, set func(*PersonSummary, string)) error {
	rows, err := s.DB.Conn.Query(ctx, query, sm.all)
	if err != nil {
		return queryErr(name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var p uint32
		var text string
		if err := rows.Scan(&p, &text); err != nil {
			return queryErr(name, err)
		}
		if ps := sm.of(p); ps != nil {
			set(ps, text)
		}
	}
	return queryErr(name, rows.Err())
}

// summaryOrders adds up each line's valid orders and spend, and takes the
// latest order's time and the city of the latest order that names one.
func (s *Service) summaryOrders(ctx context.Context, sm *summaries) error {
	rows, err := s.DB.Conn.Query(ctx, `SELECT person_id, countIf(`+schema.ValidOrder+`),
			sumIf(toFloat64(amount), `+schema.ValidOrder+`), max(ordered_at), argMaxIf(toString(city), ordered_at, city != '')
		FROM `+s.DB.Table("orders")+` FINAL WHERE person_id IN ? GROUP BY person_id`, sm.all)
	if err != nil {
		return queryErr("summaries: read orders", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r struct {
			person uint32
			orders uint64
			spend  float64
			last   time.Time
			city   string
		}
		if err := rows.Scan(&r.person, &r.orders, &r.spend, &r.last, &r.city); err != nil {
			return queryErr("summaries: read orders", err)
		}
		ps := sm.of(r.person)
		if ps == nil {
			continue
		}
		ps.Orders += r.orders
		ps.Spend += r.spend
		if r.last.After(ps.LastOrder) {
			ps.LastOrder = r.last
			if r.city != "" {
				ps.City = r.city
			}
		}
	}
	return queryErr("summaries: read orders", rows.Err())
}
