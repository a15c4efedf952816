package wecomops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// GroupTagPrefix starts every person tag of customer-group membership: a
// customer in the group 大米福利群 gives their person the tag
// "wecom_group:大米福利群", usable in rules as
// tag("wecom_group:大米福利群"). Groups of the same name give the same
// tag.
const GroupTagPrefix = "wecom_group:"

// GroupTagSource is person_tags.source of the group-membership tags.
const GroupTagSource = "wecom_group"

// groupBatch is how many groups are read before their rows are written:
// an error stops a round with at most this many reads lost.
const groupBatch = 100

// groupQueue holds the groups change_external_chat callbacks named, until
// the groups loop reads them, and paces groupchat/get.
type groupQueue struct {
	gets *limiter

	mu        sync.Mutex
	changed   map[string]bool // chat id -> dismissed
	wake      chan struct{}
	importing sync.Mutex // one import or callback round at a time
	last      time.Time  // the latest stamp (under importing)
}

// stamp is the ts of a round's rows: the clock's time, but always after
// the previous round's, so that the latest row of a group or member wins
// even when two rounds fall in the same millisecond (or the clock is a
// test's, standing still). The caller holds importing.
func (q *groupQueue) stamp(now time.Time) time.Time {
	now = now.UTC().Truncate(time.Millisecond)
	if !now.After(q.last) {
		now = q.last.Add(time.Millisecond)
	}
	q.last = now
	return now
}

func newGroupQueue(c Clock, perMinute, perHour int) groupQueue {
	return groupQueue{gets: newLimiter(c, perMinute, perHour), changed: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// GroupChanged takes a change_external_chat callback (call it from
// ingest): the group is read again by the groups loop (groupchat/get),
// or, for ChangeType dismiss, recorded dismissed. It never blocks. A
// callback lost with the process is caught by the next full import (at
// start and every GroupsEvery).
func (s *Service) GroupChanged(ev wecom.Event) {
	if ev.Event != wecom.EventChangeExternalChat || ev.ChatID == "" {
		return
	}
	q := &s.groups
	q.mu.Lock()
	q.changed[ev.ChatID] = q.changed[ev.ChatID] || ev.ChangeType == "dismiss"
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// GroupImport counts what an import round did.
type GroupImport struct {
	Groups    int `json:"groups"`    // groups read (groupchat/get)
	Dismissed int `json:"dismissed"` // groups recorded dismissed
	Tagged    int `json:"tagged"`    // persons whose group tags changed
}

// ImportGroups reads every customer group (groupchat/list by cursor, then
// groupchat/get each) into wecom_group_chats and wecom_group_members; a
// group recorded before and no longer listed is recorded dismissed. Then
// the persons' group tags are brought in line. When the app's visible
// range is too large for an unfiltered list (81017), the list is asked
// per 100 owners (the staff members of the contact events and the owners
// already known). It stops at the first error (45009, 5xx), keeping what
// it wrote; the next round reads everything again.
func (s *Service) ImportGroups(ctx context.Context) (GroupImport, error) {
	s.groups.importing.Lock()
	defer s.groups.importing.Unlock()
	refs, err := s.listGroups(ctx)
	if err != nil {
		return GroupImport{}, err
	}
	known, err := s.queryStrings(ctx, "read the live groups", "SELECT chat_id FROM "+s.db.Table("wecom_group_chats")+
		" GROUP BY chat_id HAVING argMax(dismissed, ts) = 0")
	if err != nil {
		return GroupImport{}, err
	}
	listed := map[string]bool{}
	for _, r := range refs {
		listed[r.ChatID] = true
	}
	var gone []string
	for _, id := range known {
		if !listed[id] {
			gone = append(gone, id)
		}
	}
	res, err := s.readGroups(ctx, refs, gone)
	if err != nil {
		return res, err
	}
	res.Tagged, err = s.GroupTags(ctx)
	return res, err
}

// listGroups lists every group, per 100 owners when WeCom asks for it.
func (s *Service) listGroups(ctx context.Context) ([]wecom.GroupChatRef, error) {
	refs, err := s.o.Client.ListGroupChats(ctx, wecom.GroupChatListQuery{})
	var apiErr *wecom.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != wecom.ErrCodeTooManyOwners {
		if err != nil {
			return nil, fmt.Errorf("wecomops: list the customer groups: %w", err)
		}
		return refs, nil
	}
	owners, err := s.queryStrings(ctx, "read the staff members", "SELECT DISTINCT staff_userid FROM "+s.db.Table("wecom_contact_events")+
		" WHERE staff_userid != '' UNION DISTINCT SELECT DISTINCT toString(owner) FROM "+s.db.Table("wecom_group_chats")+" WHERE owner != ''")
	if err != nil {
		return nil, err
	}
	sort.Strings(owners)
	refs = nil
	for i := 0; i < len(owners); i += wecom.MaxGroupChatOwners {
		page, err := s.o.Client.ListGroupChats(ctx, wecom.GroupChatListQuery{Owners: owners[i:min(i+wecom.MaxGroupChatOwners, len(owners))]})
		if err != nil {
			return nil, fmt.Errorf("wecomops: list the customer groups by owner: %w", err)
		}
		refs = append(refs, page...)
	}
	return refs, nil
}

// readGroups reads refs with groupchat/get, groupBatch at a time, and
// records them; gone groups (and any WeCom no longer knows, 40050) are
// recorded dismissed.
func (s *Service) readGroups(ctx context.Context, refs []wecom.GroupChatRef, gone []string) (GroupImport, error) {
	var res GroupImport
	for i := 0; i < len(refs) || i == 0; i += groupBatch {
		var chats []groupRead
		var readErr error
		for _, r := range refs[min(i, len(refs)):min(i+groupBatch, len(refs))] {
			g, ok, err := s.getGroup(ctx, r.ChatID)
			if err != nil {
				readErr = err
				break
			}
			if !ok {
				gone = append(gone, r.ChatID)
				continue
			}
			chats = append(chats, groupRead{GroupChat: g, status: r.Status})
		}
		if err := s.storeGroups(ctx, chats, gone); err != nil {
			return res, err
		}
		res.Groups, res.Dismissed, gone = res.Groups+len(chats), res.Dismissed+len(gone), nil
		if readErr != nil {
			return res, readErr
		}
	}
	return res, nil
}

// getGroup is groupchat/get under its rate limit; ok is false for a group
// WeCom no longer knows (40050).
func (s *Service) getGroup(ctx context.Context, chatID string) (wecom.GroupChat, bool, error) {
	if err := s.groups.gets.wait(ctx); err != nil {
		return wecom.GroupChat{}, false, err
	}
	g, err := s.o.Client.GetGroupChat(ctx, chatID)
	var apiErr *wecom.APIError
	if errors.As(err, &apiErr) && apiErr.Code == wecom.ErrCodeInvalidChatID {
		return wecom.GroupChat{}, false, nil
	}
	if err != nil {
		return wecom.GroupChat{}, false, fmt.Errorf("wecomops: read customer group %s: %w", chatID, err)
	}
	return g, true, nil
}

// ReadChangedGroups reads the groups callbacks named since the last round
// (GroupChanged) and brings the group tags in line. Groups it could not
// read are queued again. It returns how many groups it recorded.
func (s *Service) ReadChangedGroups(ctx context.Context) (int, error) {
	q := &s.groups
	q.importing.Lock()
	defer q.importing.Unlock()
	q.mu.Lock()
	changed := q.changed
	q.changed = map[string]bool{}
	q.mu.Unlock()
	if len(changed) == 0 {
		return 0, nil
	}
	var refs []wecom.GroupChatRef
	var gone []string
	for id, dismissed := range changed {
		if dismissed {
			gone = append(gone, id)
		} else {
			refs = append(refs, wecom.GroupChatRef{ChatID: id, Status: -1})
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].ChatID < refs[j].ChatID })
	res, err := s.readGroups(ctx, refs, gone)
	if err != nil {
		q.mu.Lock()
		for id, d := range changed {
			q.changed[id] = q.changed[id] || d
		}
		q.mu.Unlock()
		return res.Groups + res.Dismissed, err
	}
	_, err = s.GroupTags(ctx)
	return res.Groups + res.Dismissed, err
}

// runGroups imports every group at start and every GroupsEvery, and reads
// the groups callbacks name as they come.
func (s *Service) runGroups(ctx context.Context) {
	all := time.NewTicker(s.o.GroupsEvery)
	defer all.Stop()
	imp := func() error { _, err := s.ImportGroups(ctx); return err }
	s.logErr(ctx, "customer group import failed", imp)
	for {
		select {
		case <-ctx.Done():
			return
		case <-all.C:
			s.logErr(ctx, "customer group import failed", imp)
		case <-s.groups.wake:
			s.logErr(ctx, "customer group read failed", func() error { _, err := s.ReadChangedGroups(ctx); return err })
		}
	}
}
