package campaigns

import (
	"context"
	"fmt"
	"time"
)

var sendColumns = []string{"campaign_id", "person_id", "group", "reason", "channel", "address", "sender", "state", "detail", "task", "planned_at", "updated_at"}

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
		err = s.channels().checkTargets(c)
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
	if c.Trigger == TriggerOnce && c.Channel != ChannelRobot {
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
	old, err := s.bitmapQuery(ctx, "SELECT person_id FROM "+s.DB.Table("campaign_sends")+" FINAL WHERE campaign_id = ? AND state = 'planned'", c.ID)
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
	tw := s.Writer.Table("campaign_sends", sendColumns...)
	chunk := s.chunk()
	for i := 0; i < len(p.Entries); i += chunk {
		rows := planRows(c, p.Entries[i:min(i+chunk, len(p.Entries))], now)
		if err := tw.Insert(ctx, rowsToken(fmt.Sprintf("%s:%d", tokenPrefix, i), rows), rows); err != nil {
			return fmt.Errorf("write the plan: %w", err)
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
func (s *Service) pending(ctx context.Context, c Campaign, limit int) ([]pendingSend, error) {
	return s.sendsWhere(ctx, c, limit, "state = 'planned'")
}

type pendingSend struct {
	person                       uint32
	address, sender, state, task string
	plannedAt                    time.Time
}

// send delivers a running campaign's planned rows chunk by chunk: first
// it settles tasks a crash left half-done (recover), then each chunk goes
// through its channel, journalled so that a repeat after a crash sends
// nothing twice. A campaign sent once is finished when nothing is left;
// a triggered one keeps running until its end.
func (s *Service) send(ctx context.Context, c Campaign) error {
	offer, err := s.Offer(ctx, c.OfferID)
	if err != nil {
		return err
	}
	if c.Channel == ChannelRobot {
		if err := s.sendRobots(ctx, c, offer); err != nil {
			return err
		}
		return s.finish(ctx, c)
	}
	if err := s.recover(ctx, c, offer); err != nil {
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
		switch c.Channel {
		case ChannelWeCom:
			err = s.sendWeCom(ctx, c, offer, batch)
		case ChannelWebhook:
			err = s.sendWebhook(ctx, c, offer, batch)
		default:
			err = s.sendOutboxChunk(ctx, c, offer, batch)
		}
		if err != nil {
			return err
		}
	}
	if c.Trigger != TriggerOnce && c.Trigger != "" && (c.EndAt.IsZero() || s.now().Before(c.EndAt)) {
		return nil
	}
	return s.finish(ctx, c)
}

func (s *Service) finish(ctx context.Context, c Campaign) error {
	c.Status = StatusFinished
	return s.writeCampaign(ctx, &c, "system")
}

// sendOutboxChunk records a chunk's messages in the outbox (keyed by
// campaign and person, so a repeat after a crash changes nothing), then
// moves the rows to sent.
func (s *Service) sendOutboxChunk(ctx context.Context, c Campaign, offer Offer, batch []pendingSend) error {
	if err := s.sendOutbox(ctx, c, offer, batch); err != nil {
		return err
	}
	if err := s.crash("channel"); err != nil {
		return err // the channel acted, the state did not move
	}
	tok := fmt.Sprintf("sent:%s:%d-%d", c.ID, batch[0].person, batch[len(batch)-1].person)
	return s.setStates(ctx, c, batch, "sent", "", nil, tok)
}

// crash fails at a named step when a test asks for it, as a crash would.
func (s *Service) crash(step string) error {
	if s.crashAfter != nil {
		return s.crashAfter(step)
	}
	return nil
}

// sendOutbox records the personalised messages.
func (s *Service) sendOutbox(ctx context.Context, c Campaign, offer Offer, batch []pendingSend) error {
	who, err := s.recipients(ctx, personsOf(batch))
	if err != nil {
		return err
	}
	now := s.now()
	rows := make([][]any, len(batch))
	for i, p := range batch {
		// An unknown name renders "{{name}}您好" as "您好".
		msg := Render(c.Template, vars(who[p.person], p.sender, offer, coupon(offer, c.ID, p.person)))
		rows[i] = []any{c.ID, p.person, p.address, msg, now}
	}
	tok := fmt.Sprintf("outbox:%s:%d-%d", c.ID, batch[0].person, batch[len(batch)-1].person)
	return s.Writer.Table("campaign_outbox", "campaign_id", "person_id", "address", "message", "ts").Insert(ctx, rowsToken(tok, rows), rows)
}

// recipient is what personalises a message: the person's name (the latest
// identify trait, else their WeCom name) and their staff member (the latest
// WeCom contact owner still their contact).
type recipient struct{ name, staff string }

// recipients reads name and staff member of persons (canonical ids).
func (s *Service) recipients(ctx context.Context, persons []uint32) (map[uint32]recipient, error) {
	members := "(SELECT person_id, canonical FROM " + s.DB.Table("persons") + " FINAL WHERE canonical IN ?)"
	q := `SELECT p.canonical,
			argMaxIf(x.trait, x.ts, x.trait != ''), argMaxIf(x.wecom, x.ts, x.wecom != ''), argMaxIf(x.staff, x.ts, x.kind = 'contact')
		FROM (
			SELECT person_id, ts, JSONExtractString(traits, 'name') AS trait, '' AS wecom, '' AS staff, 'event' AS kind
			FROM ` + s.DB.Table("events") + ` WHERE person_id IN (SELECT person_id FROM ` + members + `) AND traits != ''
			UNION ALL
			SELECT person_id, ts, '', name, if(change_type IN ('del_external_contact', 'del_follow_user'), '', staff_userid), 'contact'
			FROM ` + s.DB.Table("wecom_contact_events") + ` WHERE person_id IN (SELECT person_id FROM ` + members + `)
		) AS x
		INNER JOIN ` + members + ` AS p ON p.person_id = x.person_id
		GROUP BY p.canonical`
	rows, err := s.DB.Conn.Query(ctx, q, persons, persons, persons)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[uint32]recipient{}
	for rows.Next() {
		var p uint32
		var trait, wecomName, staff string
		if err := rows.Scan(&p, &trait, &wecomName, &staff); err != nil {
			return nil, err
		}
		r := recipient{name: trait, staff: staff}
		if r.name == "" {
			r.name = wecomName
		}
		out[p] = r
	}
	return out, rows.Err()
}

func personsOf(batch []pendingSend) []uint32 {
	ids := make([]uint32, len(batch))
	for i, p := range batch {
		ids[i] = p.person
	}
	return ids
}

// vars are a recipient's template variables.
func vars(r recipient, sender string, offer Offer, couponCode string) map[string]string {
	if sender != "" {
		r.staff = sender
	}
	return map[string]string{"name": r.name, "staff": r.staff, "offer": offer.Name, "link": offer.Link, "coupon": couponCode}
}
