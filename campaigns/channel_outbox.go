package campaigns

import (
	"context"
	"fmt"
)

// outboxChannel records each recipient's personalised message in
// campaign_outbox instead of sending it. Its rows are keyed by (campaign,
// person), so writing a chunk again changes nothing: it needs no journal.
type outboxChannel struct{}

func (outboxChannel) Validate(Campaign) error { return nil }

func (outboxChannel) Configured(Campaign, *Channels) error { return nil }

// Address reaches every person, at "person:<id>".
func (outboxChannel) Address(_ context.Context, p *Planning) error {
	p.Audience.Addresses = func(person uint32) (Address, bool) { return Address{To: fmt.Sprintf("person:%d", person)}, true }
	return nil
}

// Send records a chunk's messages (a repeat after a crash changes
// nothing), then moves the rows to sent.
func (outboxChannel) Send(ctx context.Context, d *Dispatch, batch []Recipient) error {
	texts, err := d.messages(ctx, batch)
	if err != nil {
		return err
	}
	c, now := d.Campaign, d.s.now()
	rows := make([][]any, len(batch))
	for i, p := range batch {
		rows[i] = []any{c.ID, p.Person, p.Address, texts[i], now}
	}
	span := fmt.Sprintf("%s:%d-%d", c.ID, batch[0].Person, batch[len(batch)-1].Person)
	if err := d.s.insert(ctx, "write the outbox", "campaign_outbox", []string{"campaign_id", "person_id", "address", "message", "ts"}, "outbox:"+span, rows); err != nil {
		return err
	}
	if err := d.crash("channel"); err != nil {
		return err // the channel acted, the state did not move
	}
	return d.s.setStates(ctx, c, batch, "sent", "", nil, "sent:"+span)
}

// Settle writes the messages again: the outbox journals no task, and its
// rows are idempotent.
func (o outboxChannel) Settle(ctx context.Context, d *Dispatch, _ Task, rows []Recipient) error {
	return o.Send(ctx, d, rows)
}
