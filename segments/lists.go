package segments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/expr-lang/expr/ast"
)

// Lists: a fixed set of persons saved from an analysis (a funnel step's
// converted or dropped people) becomes a segment whose rule is
// in_list("lst_...", "what it holds"). The list is stored once, as the
// OneIDs it had when saved (segment_lists); the leaf reads it as it is
// now: persons merged since count as their survivor, erased persons
// (gone from persons) drop out with the universe. The second argument
// describes the list's origin in words (the funnel's steps and filters),
// so that the sensitivity check sees what the list was selected by: a
// list of people who watched 控糖 videos needs the same consent as the
// rule that would select them.

var listIDPattern = regexp.MustCompile(`^lst_[0-9a-f]{12}$`)

// list compiles in_list(id[, about]).
func (c *compiler) list(call *ast.CallNode) (Node, error) {
	id, err := c.text(call, 0, "the list id")
	if err != nil {
		return nil, err
	}
	if !listIDPattern.MatchString(id) {
		return nil, c.errorf(call.Arguments[0], "in_list: %q is not a list id (lst_ and 12 hex digits)", id)
	}
	about := ""
	if len(call.Arguments) > 1 {
		if about, err = c.text(call, 1, "what the list holds"); err != nil {
			return nil, err
		}
	}
	c.kinds[KindPersons] = true
	return c.gen.listLeaf(call.String(), id, about), nil
}

// listLeaf reads a stored list. about travels as a parameter the query
// names (so the sensitivity check reads it among the leaf's literals).
func (g *sqlGen) listLeaf(desc, id, about string) *sqlLeaf {
	f := &fact{table: "(SELECT arrayJoin(bitmapToArray(members)) AS person_id FROM " + g.table("segment_lists") +
		" FINAL WHERE list_id = " + g.param("String", id) + " AND length(" + g.param("String", about) + ") >= 0)",
		where: []string{personKnown}}
	return g.leaf(leafSpec{desc: desc, kinds: []string{KindPersons}, fact: f})
}

// SaveList stores members as a list and saves a segment of them (not
// live: a list does not change) named name, with the rule
// in_list(<new list id>, about). origin (JSON) records where the list
// came from. The segment's size is the members still persons.
func (s *Store) SaveList(ctx context.Context, name, description, about, origin string, members *roaring.Bitmap, by string) (Definition, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := "lst_" + hex.EncodeToString(b[:])
	raw, err := EncodeGroupBitmap(members)
	if err != nil {
		return Definition{}, err
	}
	rule := "in_list(" + strconv.Quote(id) + ", " + strconv.Quote(about) + ")"
	if _, err := s.engine.Check(rule); err != nil {
		return Definition{}, err
	}
	if err := s.db.Conn.Exec(ctx, "INSERT INTO "+s.db.Table("segment_lists")+
		" (list_id, origin, members, size, created_at, created_by) SELECT ?, ?, CAST(? AS AggregateFunction(groupBitmap, UInt32)), ?, ?, ?",
		id, origin, string(raw), members.GetCardinality(), time.Now(), by); err != nil {
		return Definition{}, fmt.Errorf("segments: save list: %w", err)
	}
	return s.Save(ctx, Definition{Name: name, Description: description, Rule: rule}, by)
}
