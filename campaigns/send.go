package campaigns

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/schema"
)

// sendChunk is how many rows one send-log insert carries by default.
const sendChunk = 50_000

func (s *Service) chunk() int {
	if s.Chunk > 0 {
		return s.Chunk
	}
	return sendChunk
}

// Launch starts a draft campaign. A campaign sent once is planned in full
// and the whole plan written to the send log (treatment rows "planned",
// the others "not_sent" with their reason) before it is marked running and
// sent. A crash before the mark leaves a draft (nothing was sent); after
// it, Resume finishes the sends without repeating any. A triggered
// campaign is marked running and plans people as they enter its segment
// (or come due for replenishment). A future StartAt makes it scheduled:
// Run starts it then. With Run active, sending happens there and Launch
// returns once the plan is written.
func (s *Service) Launch(ctx context.Context, id, by string) (Campaign, Plan, error) {
	s.mu.Lock()
	c, err := s.Campaign(ctx, id)
	if err == nil && c.Status != StatusDraft {
		err = &FieldError{"status", "the campaign is " + c.Status + ", not a draft"}
	}
	if err == nil {
		err = s.channels().configured(c)
	}
	if err != nil {
		s.mu.Unlock()
		return c, Plan{}, err
	}
	if !c.StartAt.IsZero() && s.now().Before(c.StartAt) {
		c.Status = StatusScheduled
		err := s.writeCampaign(ctx, &c, by)
		s.mu.Unlock()
		s.kick()
		return c, Plan{}, err
	}
	c, p, err := s.start(ctx, c, by)
	s.mu.Unlock()
	if err != nil {
		return c, p, err
	}
	if s.looping.Load() {
		s.kick()
		return c, p, nil
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return c, p, s.send(ctx, c)
}

// start plans (campaigns sent once) and marks c running; s.mu is held.
func (s *Service) start(ctx context.Context, c Campaign, by string) (Campaign, Plan, error) {
	var p Plan
	if c.Trigger == TriggerOnce && !s.channels().isGroup(c.Channel) {
		var err error
		if p, err = s.plan(ctx, c, nil); err != nil {
			return c, p, err
		}
		if err := s.writePlan(ctx, c, p, "plan:"+c.ID); err != nil {
			return c, p, err
		}
		if err := s.supersede(ctx, c, p); err != nil {
			return c, p, err
		}
		if err := s.crash("planned"); err != nil {
			return c, p, err // the plan is written, the campaign still a draft
		}
	}
	c.Status, c.LaunchedAt = StatusRunning, s.now()
	if err := s.writeCampaign(ctx, &c, by); err != nil {
		return c, p, err
	}
	s.Logger.Info("campaign launched", "campaign", c.ID, "trigger", c.Trigger, "treatment", p.Counts[GroupTreatment], "holdout", p.Counts[GroupHoldout], "excluded", p.Counts[GroupExcluded])
	if err := s.crash("plan"); err != nil {
		return c, p, err
	}
	if c.Trigger == TriggerReplenishment {
		rp, err := s.replenish(ctx, c)
		return c, rp, err
	}
	return c, p, nil
}

// supersede marks "not_sent" (reason replanned) the rows an earlier,
// failed launch of the draft wrote for persons the new plan does not
// hold, so that nothing planned then is sent now.
func (s *Service) supersede(ctx context.Context, c Campaign, p Plan) error {
	old, err := s.bitmap(ctx, "read an earlier launch's plan", "SELECT person_id FROM "+s.DB.Table("campaign_sends")+
		" FINAL WHERE campaign_id = {campaign:String} AND state = 'planned'", named("campaign", c.ID))
	if err != nil || old.IsEmpty() {
		return err
	}
	for _, e := range p.Entries {
		old.Remove(e.Person)
	}
	if old.IsEmpty() {
		return nil
	}
	stale := Plan{}
	it := old.Iterator()
	for it.HasNext() {
		stale.Entries = append(stale.Entries, Entry{Person: it.Next(), Group: GroupExcluded, Reason: ReasonReplanned})
	}
	return s.writePlan(ctx, c, stale, "replanned:"+c.ID)
}

// detailHoldoutArm marks, in the send log's detail, an excluded person who
// had been drawn into the holdout (a cap, quiet hours or the send limit
// would have kept them from a send).
const detailHoldoutArm = "holdout"

// writePlan writes a plan's rows to the send log in chunks; tokenPrefix
// makes each chunk's insert idempotent.
func (s *Service) writePlan(ctx context.Context, c Campaign, p Plan, tokenPrefix string) error {
	now := s.stamp()
	chunk := s.chunk()
	for i := 0; i < len(p.Entries); i += chunk {
		rows := planRows(c, p.Entries[i:min(i+chunk, len(p.Entries))], now)
		if err := s.insert(ctx, "write the plan", "campaign_sends", sendColumns, fmt.Sprintf("%s:%d", tokenPrefix, i), rows); err != nil {
			return err
		}
	}
	return nil
}

// planRows are the send-log rows (sendColumns) of plan entries.
func planRows(c Campaign, entries []Entry, now time.Time) [][]any {
	rows := make([][]any, 0, len(entries))
	for _, e := range entries {
		state, detail := "not_sent", ""
		switch {
		case e.Group == GroupTreatment:
			state = "planned"
		case e.Group == GroupExcluded && e.Arm == GroupHoldout:
			detail = detailHoldoutArm
		}
		rows = append(rows, []any{c.ID, e.Person, e.Group, e.Reason, c.Channel, e.Address.To, e.Address.Sender, state, detail, "", now, now})
	}
	return rows
}

// Resume finishes the sends of running campaigns (after a restart).
func (s *Service) Resume(ctx context.Context) error {
	list, err := s.Campaigns(ctx)
	if err != nil {
		return err
	}
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	for _, c := range list {
		if c.Status == StatusRunning {
			if err := s.send(ctx, c); err != nil {
				return fmt.Errorf("resume %s: %w", c.ID, err)
			}
		}
	}
	return nil
}

// pending reads treatment rows still planned.
func (s *Service) pending(ctx context.Context, c Campaign, limit int) ([]Recipient, error) {
	return s.sendsWhere(ctx, "read planned sends", c, limit, "state = 'planned'")
}

// send delivers a running campaign's planned rows chunk by chunk through
// its channel: first it settles tasks a crash left half-done (recover),
// then each chunk goes to the channel, which journals its calls so that a
// repeat after a crash sends nothing twice. A group channel posts once. A
// campaign sent once is finished when nothing is left; a triggered one
// keeps running until its end. s.sendMu is held.
func (s *Service) send(ctx context.Context, c Campaign) error {
	err := s.sendAll(ctx, c)
	s.settle(c.ID, err)
	return err
}

func (s *Service) sendAll(ctx context.Context, c Campaign) error {
	offer, err := s.Offer(ctx, c.OfferID)
	if err != nil {
		return err
	}
	r, ok := s.channels().lookup(c.Channel)
	if !ok {
		return fmt.Errorf("campaigns: campaign %s: no channel %q is registered", c.ID, c.Channel)
	}
	d := s.dispatch(c, offer)
	if r.group != nil {
		if err := r.group.Post(ctx, d); err != nil {
			return err
		}
		return s.finish(ctx, c)
	}
	if err := s.recover(ctx, r.person, d); err != nil {
		return err
	}
	for {
		batch, err := s.pending(ctx, c, s.chunk())
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		if err := r.person.Send(ctx, d, batch); err != nil {
			return err
		}
		if len(batch) < s.chunk() {
			break // that was the last; what is planned meanwhile goes next round
		}
	}
	if c.Trigger != TriggerOnce && c.Trigger != "" && (c.EndAt.IsZero() || s.now().Before(c.EndAt)) {
		return nil
	}
	return s.finish(ctx, c)
}

// settle records whether campaign id's last send went through (err nil).
// s.sendMu is held.
func (s *Service) settle(id string, err error) {
	if s.settled == nil {
		s.settled = map[string]bool{}
	}
	s.settled[id] = err == nil
}

// sendPlanned sends, of a running triggered campaign whose last send went
// through (settled), the rows planned for persons that are still
// "planned": a round's entries, read back by person (the send log's key)
// rather than by a sweep of the whole log. s.sendMu is held.
func (s *Service) sendPlanned(ctx context.Context, c Campaign, persons *roaring.Bitmap, pre *prefetch) error {
	err := s.sendPersons(ctx, c, persons, pre)
	s.settle(c.ID, err)
	return err
}

func (s *Service) sendPersons(ctx context.Context, c Campaign, persons *roaring.Bitmap, pre *prefetch) error {
	r, ok := s.channels().lookup(c.Channel)
	if !ok || r.person == nil {
		return s.sendAll(ctx, c)
	}
	offer, err := s.Offer(ctx, c.OfferID)
	if err != nil {
		return err
	}
	batch, err := s.sendsWhere(ctx, "read the planned sends of a round's entries", c, 0,
		"state = 'planned' AND person_id IN {persons:Array(UInt32)}", named("persons", persons.ToArray()))
	if err != nil {
		return err
	}
	d := s.dispatch(c, offer)
	d.prefetched = pre
	for i := 0; i < len(batch); i += s.chunk() {
		if err := r.person.Send(ctx, d, batch[i:min(i+s.chunk(), len(batch))]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) finish(ctx context.Context, c Campaign) error {
	c.Status = StatusFinished
	return s.writeCampaign(ctx, &c, "system")
}

// messages are the personalised messages of a chunk's recipients, in its
// order. An unknown name renders "{{name}}您好" as "您好".
func (d *Dispatch) messages(ctx context.Context, rows []Recipient) ([]string, error) {
	who, err := d.profiles(ctx, rows)
	if err != nil {
		return nil, err
	}
	c, offer := d.Campaign, d.Offer
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = Render(c.Template, vars(who[r.Person], r.Sender, offer, coupon(offer, c.ID, r.Person)))
	}
	return out, nil
}

// profiles reads the names and staff of rows' persons, from the round's
// prefetch when it holds them all.
func (d *Dispatch) profiles(ctx context.Context, rows []Recipient) (map[uint32]profile, error) {
	persons := personsOf(rows)
	if who, ok := d.prefetched.get(ctx, persons); ok {
		return who, nil
	}
	return d.s.profiles(ctx, persons)
}

// prefetch is the profiles of a round's entries, read while the round
// plans them (the read scans the events, which grow with the brand: it is
// the costliest step of an entry's send, and nothing it reads depends on
// the plan).
type prefetch struct {
	persons *roaring.Bitmap
	done    chan struct{}
	who     map[uint32]profile
	err     error
}

// prefetchProfiles starts reading the profiles of persons; the read ends
// with ctx.
func (s *Service) prefetchProfiles(ctx context.Context, persons *roaring.Bitmap) *prefetch {
	p := &prefetch{persons: persons, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.who, p.err = s.profiles(ctx, persons.ToArray())
	}()
	return p
}

// get returns the prefetched profiles when they cover persons and were
// read; false sends the caller to read them itself. nil has none.
func (p *prefetch) get(ctx context.Context, persons []uint32) (map[uint32]profile, bool) {
	if p == nil {
		return nil, false
	}
	for _, x := range persons {
		if !p.persons.Contains(x) {
			return nil, false
		}
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil, false
	}
	return p.who, p.err == nil
}

// profile is what personalises a message: the person's name (the latest
// identify trait, else their WeCom name) and their staff member (the latest
// WeCom contact owner still their contact).
type profile struct{ name, staff string }

// profiles reads name and staff member of persons (canonical ids): their
// merged ids first (one read of persons), then the names from the events'
// latest_name projection (schema.LatestName: at most a row per person and
// part, rather than a scan of every event's traits) and the WeCom
// names and staff, by those ids.
func (s *Service) profiles(ctx context.Context, persons []uint32) (map[uint32]profile, error) {
	out := map[uint32]profile{}
	ids, canonical, err := s.mergedIDs(ctx, "read the merged ids of the persons to name", persons)
	if err != nil || len(ids) == 0 {
		return out, err
	}
	err = s.each(ctx, "read names and staff", s.profilesQuery(), []any{named("ids", ids), named("canonical", canonical)}, func(rows driver.Rows) error {
		var p uint32
		var trait, wecomName, staff string
		if err := rows.Scan(&p, &trait, &wecomName, &staff); err != nil {
			return err
		}
		r := profile{name: trait, staff: staff}
		if r.name == "" {
			r.name = wecomName
		}
		out[p] = r
		return nil
	})
	return out, err
}

// profilesQuery is profiles' query: per canonical person, of the ids
// {ids:Array(UInt32)} merged into {canonical:Array(UInt32)} (parallel),
// the latest name trait, WeCom name and staff.
func (s *Service) profilesQuery() string {
	return `SELECT p.canonical,
			argMaxIf(x.trait, x.ts, x.trait != ''), argMaxIf(x.wecom, x.ts, x.wecom != ''), argMaxIf(x.staff, x.ts, x.kind = 'contact')
		FROM (
			SELECT person_id, named_at AS ts, name AS trait, '' AS wecom, '' AS staff, 'event' AS kind
			FROM (SELECT person_id, ` + schema.LatestNameValue + ` AS name, ` + schema.LatestNameTime + ` AS named_at
				FROM ` + s.DB.Table("events") + ` WHERE person_id IN {ids:Array(UInt32)} GROUP BY person_id)
			UNION ALL
			SELECT person_id, ts, '', name, if(change_type IN ('del_external_contact', 'del_follow_user'), '', staff_userid), 'contact'
			FROM ` + s.DB.Table("wecom_contact_events") + ` WHERE person_id IN {ids:Array(UInt32)}
		) AS x
		INNER JOIN (SELECT arrayJoin(arrayZip({ids:Array(UInt32)}, {canonical:Array(UInt32)})) AS pc, pc.1 AS person_id, pc.2 AS canonical) AS p
			ON p.person_id = x.person_id
		GROUP BY p.canonical`
}

// mergedIDs reads the ids merged into persons (canonical ids; each its
// own among them) and, in parallel, the canonical id of each.
func (s *Service) mergedIDs(ctx context.Context, name string, persons []uint32) (ids, canonical []uint32, err error) {
	err = s.each(ctx, name, "SELECT * FROM "+schema.Canonical(s.DB.Table("persons"), "canonical IN {persons:Array(UInt32)}"),
		[]any{named("persons", persons)}, func(rows driver.Rows) error {
			var p, c uint32
			if err := rows.Scan(&p, &c); err != nil {
				return err
			}
			ids, canonical = append(ids, p), append(canonical, c)
			return nil
		})
	return ids, canonical, err
}

func personsOf(batch []Recipient) []uint32 {
	ids := make([]uint32, len(batch))
	for i, p := range batch {
		ids[i] = p.Person
	}
	return ids
}

// vars are a recipient's template variables.
func vars(r profile, sender string, offer Offer, couponCode string) map[string]string {
	if sender != "" {
		r.staff = sender
	}
	return map[string]string{"name": r.name, "staff": r.staff, "offer": offer.Name, "link": offer.Link, "coupon": couponCode}
}

// coupon picks a recipient's code from the offer's pool by a hash of
// (campaign, person): the same code on every retry of the send.
func coupon(o Offer, campaign string, person uint32) string {
	if len(o.Coupons) == 0 {
		return ""
	}
	return o.Coupons[bucket(campaign+"/coupon", person)%len(o.Coupons)]
}

// phones decrypts the phones (keyed hashes, the Address of channels that
// send to phones) of a chunk's recipients from the vault, by hash; none
// when the platform may not reveal phones (Channels.Reveal nil), and
// none for a phone it cannot decrypt.
func (d *Dispatch) phones(ctx context.Context, rows []Recipient) (map[string]string, error) {
	out := map[string]string{}
	reveal := d.channels().Reveal
	if reveal == nil {
		return out, nil
	}
	hashes := make([]string, len(rows))
	for i, r := range rows {
		hashes[i] = r.Address
	}
	err := d.s.each(ctx, "read the vault", "SELECT hash, ciphertext FROM "+schema.Vault(d.s.DB.Table("pii_vault"), "hash IN {hashes:Array(String)}"),
		[]any{named("hashes", hashes)}, func(rows driver.Rows) error {
			var h, ct string
			if err := rows.Scan(&h, &ct); err != nil {
				return err
			}
			if v, err := reveal(ct); err == nil {
				out[h] = v
			}
			return nil
		})
	return out, err
}
