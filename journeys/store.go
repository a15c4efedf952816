package journeys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Every query binds its values as named parameters ({name:Type}) and has a
// name its errors carry ("journeys: read runs: ...").

var named = clickhouse.Named

func queryError(name string, err error) error { return fmt.Errorf("journeys: %s: %w", name, err) }

// each runs the read query name and calls scan for each row; its error,
// the query's, a scan's or the rows', names the query.
func (s *Service) each(ctx context.Context, name, query string, args []any, scan func(driver.Rows) error) (err error) {
	defer func() {
		if err != nil {
			err = queryError(name, err)
		}
	}()
	rows, err := s.DB.Conn.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for err == nil && rows.Next() {
		err = scan(rows)
	}
	return errors.Join(err, rows.Err())
}

// write inserts rows into table through the writer under a deduplication
// token made of prefix and a hash of the rows as printed, so that a retry
// of the same rows is dropped.
func (s *Service) write(ctx context.Context, name, table string, columns []string, prefix string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	h := fnv.New64a()
	for _, r := range rows {
		fmt.Fprintln(h, r...)
	}
	token := fmt.Sprintf("%s:%d:%x", prefix, len(rows), h.Sum64())
	if err := s.Writer.Table(table, columns...).Insert(ctx, token, rows); err != nil {
		return queryError(name, err)
	}
	return nil
}

// stamp is the clock for row versions: strictly increasing milliseconds,
// so a later state always replaces an earlier one under a test's fixed
// clock.
func (s *Service) stamp() time.Time {
	now := s.now().UnixMilli()
	for {
		last := s.lastStamp.Load()
		next := max(now, last+1)
		if s.lastStamp.CompareAndSwap(last, next) {
			return time.UnixMilli(next).UTC()
		}
	}
}

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "jrn_" + hex.EncodeToString(b[:])
}

var stateColumns = []string{"journey_id", "name", "status", "version", "launched_at", "fired_at", "winners", "updated_at", "by"}

// state is a journey's state row.
type state struct {
	Journey
	firedAt time.Time
}

// writeState writes a journey's state row.
func (s *Service) writeState(ctx context.Context, st state, by string) error {
	winners, _ := json.Marshal(st.Winners)
	if st.Winners == nil {
		winners = []byte("{}")
	}
	now := s.stamp()
	return s.write(ctx, "write a journey", "journeys", stateColumns, "journey:"+st.ID, [][]any{{
		st.ID, st.Name, st.Status, st.Version, st.LaunchedAt, st.firedAt, string(winners), now, by}})
}

// readStates reads the journeys' state rows (id "" for all).
func (s *Service) readStates(ctx context.Context, id string) ([]state, error) {
	var out []state
	q := "SELECT journey_id, name, status, version, launched_at, fired_at, winners, updated_at, by FROM " + s.DB.Table("journeys") +
		" FINAL WHERE {id:String} = '' OR journey_id = {id:String} ORDER BY journey_id"
	err := s.each(ctx, "read journeys", q, []any{named("id", id)}, func(rows driver.Rows) error {
		var st state
		var winners string
		if err := rows.Scan(&st.ID, &st.Name, &st.Status, &st.Version, &st.LaunchedAt, &st.firedAt, &winners, &st.UpdatedAt, &st.UpdatedBy); err != nil {
			return err
		}
		if st.LaunchedAt.Unix() <= 0 {
			st.LaunchedAt = time.Time{}
		}
		if err := json.Unmarshal([]byte(winners), &st.Winners); err != nil {
			return err
		}
		out = append(out, st)
		return nil
	})
	return out, err
}

// writeVersion writes a definition as version v of journey id.
func (s *Service) writeVersion(ctx context.Context, id string, v uint32, d Definition, by string) error {
	def, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.write(ctx, "write a journey version", "journey_versions", []string{"journey_id", "version", "definition", "created_at", "by"},
		fmt.Sprintf("version:%s:%d", id, v), [][]any{{id, v, string(def), s.stamp(), by}})
}

// Version is one saved definition of a journey.
type Version struct {
	Version    uint32     `json:"version"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	Definition Definition `json:"definition"`
}

// Versions lists a journey's definitions, oldest first.
func (s *Service) Versions(ctx context.Context, id string) ([]Version, error) {
	var out []Version
	err := s.each(ctx, "read journey versions", "SELECT version, definition, created_at, by FROM "+s.DB.Table("journey_versions")+
		" FINAL WHERE journey_id = {id:String} ORDER BY version", []any{named("id", id)}, func(rows driver.Rows) error {
		var v Version
		var def string
		if err := rows.Scan(&v.Version, &def, &v.CreatedAt, &v.CreatedBy); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(def), &v.Definition); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err == nil && len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, err
}

// definition reads version v of journey id.
func (s *Service) definition(ctx context.Context, id string, v uint32) (Definition, error) {
	var d Definition
	found := false
	err := s.each(ctx, "read a journey version", "SELECT definition FROM "+s.DB.Table("journey_versions")+
		" FINAL WHERE journey_id = {id:String} AND version = {v:UInt32}", []any{named("id", id), named("v", v)}, func(rows driver.Rows) error {
		var def string
		if err := rows.Scan(&def); err != nil {
			return err
		}
		found = true
		return json.Unmarshal([]byte(def), &d)
	})
	if err == nil && !found {
		return d, ErrNotFound
	}
	return d, err
}

// Get returns a journey with its current definition.
func (s *Service) Get(ctx context.Context, id string) (Journey, error) {
	sts, err := s.readStates(ctx, id)
	if err != nil {
		return Journey{}, err
	}
	if len(sts) == 0 {
		return Journey{}, ErrNotFound
	}
	j := sts[0].Journey
	j.Definition, err = s.definition(ctx, id, j.Version)
	return j, err
}

// List returns every journey with its current definition.
func (s *Service) List(ctx context.Context) ([]Journey, error) {
	sts, err := s.readStates(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]Journey, 0, len(sts))
	for _, st := range sts {
		j := st.Journey
		if j.Definition, err = s.definition(ctx, j.ID, j.Version); err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}
