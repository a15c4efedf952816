package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/store"
)

// ChangeContactDetails is the change type of a contact row the platform
// wrote itself: the name and unionid of a contact whose callback was
// recorded without them. Its ts is that of the change it completes, so the
// contact's latest real change (a later deletion) still comes last.
const ChangeContactDetails = "contact_details"

// detailsWindow is how far back (by arrival) contacts without details are
// looked for.
const detailsWindow = 7 * 24 * time.Hour

// BackfillContactDetails completes, at most limit at a time, contacts
// whose add or edit callback was recorded without name and unionid
// because WeCom's API failed or was slow (the callback cannot wait): it
// fetches each one's details and spools a contact_details change for it,
// once per contact (the dedup key names it), so identity resolution links
// the unionid. Contacts deleted since, and contacts completed before, are
// skipped; a contact WeCom no longer knows is recorded with empty details
// so it is not asked for again. It stops at the first retryable error
// (WeCom down, rate limited) and returns how many it completed.
func (c *Collector) BackfillContactDetails(ctx context.Context, db *store.DB, w *WeCom, limit int) (int, error) {
	if w == nil || w.Client == nil {
		return 0, nil
	}
	rows, err := db.Conn.Query(ctx, `SELECT external_userid, argMax(staff_userid, ts), argMax(state, ts), argMax(corp_id, ts), max(ts)
		FROM `+db.Table("wecom_contact_events")+`
		WHERE received_at >= ? AND external_userid != ''
		GROUP BY external_userid
		HAVING countIf(name != '' OR unionid != '' OR change_type = ?) = 0
			AND argMax(change_type, ts) IN ('add_external_contact', 'edit_external_contact')
		LIMIT ?`, c.now().Add(-detailsWindow), ChangeContactDetails, limit)
	if err != nil {
		return 0, fmt.Errorf("ingest: read contacts without details: %w", err)
	}
	type pending struct {
		ext, staff, state, corp string
		ts                      time.Time
	}
	var todo []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.ext, &p.staff, &p.state, &p.corp, &p.ts); err != nil {
			rows.Close()
			return 0, fmt.Errorf("ingest: read contacts without details: %w", err)
		}
		todo = append(todo, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("ingest: read contacts without details: %w", err)
	}
	done := 0
	for _, p := range todo {
		ext, err := w.Client.GetExternalContact(ctx, p.ext)
		var apiErr *wecom.APIError
		switch {
		case err == nil:
		case wecom.IsRetryable(err) || ctx.Err() != nil:
			return done, fmt.Errorf("contact details of %s: %w", p.ext, err)
		case errors.As(err, &apiErr):
			c.logger.Warn("WeCom refuses the contact's details; recording none", "external_userid", p.ext, "err", err)
		default:
			return done, err
		}
		con := &Contact{DedupKey: "details|" + p.corp + "|" + p.ext, TS: p.ts, ChangeType: ChangeContactDetails, CorpID: p.corp,
			StaffUserID: p.staff, ExternalUserID: p.ext, State: p.state, Name: ext.Name, UnionID: ext.UnionID, ReceivedAt: c.now().UTC()}
		if _, err := c.accept(ctx, "wecom", "/wecom/contact-details", []item{c.item(&Record{Kind: KindContact, Contact: con}, nil, nil)}); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}
