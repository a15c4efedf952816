package wecomops

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/schema"
)

// groupRead is a group as groupchat/get answered, with its groupchat/list
// status (-1 when read for a callback: the status recorded stays).
type groupRead struct {
	wecom.GroupChat
	status int
}

// priorGroup is what the platform recorded of a group before a read.
type priorGroup struct {
	name, owner string
	created     time.Time
	status      uint8
	members     map[string]uint8 // present members -> member_type
}

// priorGroups reads the latest recorded state of the groups ids.
func (s *Service) priorGroups(ctx context.Context, ids []string) (map[string]*priorGroup, error) {
	out := map[string]*priorGroup{}
	err := s.each(ctx, "read the recorded groups", `SELECT chat_id, argMax(name, ts), argMax(owner, ts), argMax(created_at, ts), argMax(status, ts) FROM `+
		s.db.Table("wecom_group_chats")+` WHERE chat_id IN ? GROUP BY chat_id`, []any{ids},
		func(scan scanFn) error {
			var id string
			p := &priorGroup{members: map[string]uint8{}}
			err := scan(&id, &p.name, &p.owner, &p.created, &p.status)
			out[id] = p
			return err
		})
	if err != nil {
		return nil, err
	}
	err = s.each(ctx, "read the recorded group members", `SELECT chat_id, userid, any(member_type) FROM `+s.db.Table("wecom_group_members")+
		` WHERE chat_id IN ? GROUP BY chat_id, userid HAVING argMax(present, ts) = 1`, []any{ids},
		func(scan scanFn) error {
			var id, user string
			var typ uint8
			if err := scan(&id, &user, &typ); err != nil {
				return err
			}
			if out[id] == nil {
				out[id] = &priorGroup{members: map[string]uint8{}}
			}
			out[id].members[user] = typ
			return nil
		})
	return out, err
}

// storeGroups records the groups read (their members present, members
// recorded before and gone absent) and the gone groups dismissed (their
// members absent): one query for what was recorded and one insert per
// table.
func (s *Service) storeGroups(ctx context.Context, read []groupRead, gone []string) error {
	if len(read)+len(gone) == 0 {
		return nil
	}
	ids := append([]string(nil), gone...)
	for _, g := range read {
		ids = append(ids, g.ChatID)
	}
	prior, err := s.priorGroups(ctx, ids)
	if err != nil {
		return err
	}
	now := s.groups.stamp(s.o.Clock.Now())
	var chats, members [][]any
	absent := func(id string, p *priorGroup, keep map[string]bool) {
		for user, typ := range p.members {
			if !keep[user] {
				members = append(members, []any{id, user, typ, "", time.Unix(0, 0).UTC(), uint8(0), uint8(0), now})
			}
		}
	}
	for _, g := range read {
		p := prior[g.ChatID]
		if p == nil {
			p = &priorGroup{members: map[string]uint8{}}
		}
		status := p.status
		if g.status >= 0 {
			status = uint8(g.status)
		}
		chats = append(chats, []any{g.ChatID, g.Name, g.Owner, g.Notice, g.CreateTime, status, uint32(len(g.Members)), uint8(0), now})
		keep := map[string]bool{}
		for _, m := range g.Members {
			keep[m.UserID] = true
			members = append(members, []any{g.ChatID, m.UserID, uint8(m.Type), m.UnionID, m.JoinTime, uint8(m.JoinScene), uint8(1), now})
		}
		absent(g.ChatID, p, keep)
	}
	for _, id := range gone {
		p := prior[id]
		if p == nil {
			continue // never recorded: nothing to dismiss
		}
		chats = append(chats, []any{id, p.name, p.owner, "", p.created, p.status, uint32(0), uint8(1), now})
		absent(id, p, nil)
	}
	if err := s.insert(ctx, "wecom_group_members", "chat_id, userid, member_type, unionid, join_time, join_scene, present, ts", members); err != nil {
		return fmt.Errorf("wecomops: write group members: %w", err)
	}
	if err := s.insert(ctx, "wecom_group_chats", "chat_id, name, owner, notice, created_at, status, members, dismissed, ts", chats); err != nil {
		return fmt.Errorf("wecomops: write groups: %w", err)
	}
	return nil
}

// groupMemberships is a subquery of (canonical, name): each person whose
// WeCom customer (external_userid, through the identity graph's
// wecom_external_userid links; contested ones left out) is a present
// member of a live group, with the group's name.
func (s *Service) groupMemberships() string {
	return `(SELECT DISTINCT p.canonical AS canonical, c.name AS name FROM
		(SELECT chat_id, userid FROM ` + s.db.Table("wecom_group_members") + ` WHERE member_type = 2
			GROUP BY chat_id, userid HAVING argMax(present, ts) = 1) AS m
		INNER JOIN (SELECT chat_id, argMax(name, ts) AS name FROM ` + s.db.Table("wecom_group_chats") + `
			GROUP BY chat_id HAVING argMax(dismissed, ts) = 0) AS c ON c.chat_id = m.chat_id
		INNER JOIN (SELECT id_value, argMax(person_id, version) AS pid FROM ` + s.db.Table("identity_links") + `
			WHERE id_type = '` + identity.WeComExternalUserID + `' GROUP BY id_value HAVING argMax(contested, version) = 0) AS l ON l.id_value = m.userid
		INNER JOIN ` + schema.Canonical(s.db.Table("persons"), "") + ` AS p ON p.person_id = l.pid
		WHERE c.name != '')`
}

// GroupTags brings every person's GroupTagPrefix tags in line with the
// live groups their customers are members of (one query for the wanted
// tags, one for the live ones, one insert of the difference), tells the
// live segments who changed and returns how many persons did. Group
// names are trimmed; a group without a name gives no tag.
func (s *Service) GroupTags(ctx context.Context) (int, error) {
	want := map[personTag]bool{}
	err := s.each(ctx, "read group memberships", "SELECT canonical, name FROM "+s.groupMemberships(), nil,
		func(scan scanFn) error {
			var p uint32
			var name string
			if err := scan(&p, &name); err != nil {
				return err
			}
			if name = strings.TrimSpace(name); name != "" {
				want[personTag{p, GroupTagPrefix + name}] = true
			}
			return nil
		})
	if err != nil {
		return 0, err
	}
	have, err := s.liveTags(ctx, GroupTagPrefix, nil)
	if err != nil {
		return 0, err
	}
	changed, err := s.writeTagDiff(ctx, want, have, GroupTagSource)
	return len(changed), err
}

// Group is a customer group as last read, for the API.
type Group struct {
	ChatID    string    `json:"chat_id"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	Status    uint8     `json:"status"`    // 0 owner normal, 1 resigned, 2 inheritance in progress, 3 inherited
	Members   uint32    `json:"members"`   // staff and customers at the last read
	Customers uint64    `json:"customers"` // customers present
	Dismissed bool      `json:"dismissed"`
	ReadAt    time.Time `json:"read_at"`
}

// Groups lists the customer groups as last read: live ones first, by name.
func (s *Service) Groups(ctx context.Context) ([]Group, error) {
	out := []Group{}
	err := s.each(ctx, "read the groups", `SELECT c.chat_id, c.name, c.owner, c.status, c.members, c.dismissed, c.read_at, m.customers FROM
		(SELECT chat_id, argMax(name, ts) AS name, argMax(owner, ts) AS owner, argMax(status, ts) AS status, argMax(members, ts) AS members,
			argMax(dismissed, ts) AS dismissed, max(ts) AS read_at FROM `+s.db.Table("wecom_group_chats")+` GROUP BY chat_id) AS c
		LEFT JOIN (SELECT chat_id, count() AS customers FROM (SELECT chat_id, userid FROM `+s.db.Table("wecom_group_members")+`
			WHERE member_type = 2 GROUP BY chat_id, userid HAVING argMax(present, ts) = 1) GROUP BY chat_id) AS m ON m.chat_id = c.chat_id
		ORDER BY c.dismissed, c.name, c.chat_id`, nil,
		func(scan scanFn) error {
			var g Group
			var dismissed uint8
			err := scan(&g.ChatID, &g.Name, &g.Owner, &g.Status, &g.Members, &dismissed, &g.ReadAt, &g.Customers)
			g.Dismissed = dismissed == 1
			out = append(out, g)
			return err
		})
	return out, err
}
