package campaigns

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
)

// Consent: opt-outs (PIPL art. 24: a person may refuse marketing) and the
// separate consent that targeting by a sensitive category needs (PIPL art.
// 28-29: health interests).
//
// Who may change what:
//   - recording an opt-out, or withdrawing a separate consent, is open to
//     anyone who takes the customer's request (and to the customer: 退订
//     in a WeCom chat);
//   - a separate consent is granted with its source and evidence (the API
//     lets only an admin do it; imports and forms call SetConsents);
//   - an opt-out is undone only by the customer's own recorded opt-in
//     (the message 订阅 in a WeCom chat, after the opt-out) or by an admin
//     with a reason (the API checks the role).

// SensitiveTerms are the built-in sensitive vocabulary (health interests):
// a campaign whose segment matches one, or a tag marked sensitive, in any
// literal of its compiled rule or of a segment it reads with in_segment
// reaches only persons with recorded separate consent (segments.Sensitivity).
var SensitiveTerms = []string{"控糖", "血糖", "糖尿病", "减脂", "低GI", "高血压"}

// Consent kinds.
const (
	KindOptOut           = "opt_out"
	KindSensitiveConsent = "sensitive_consent"
)

// Consent sources the platform records itself: the customer's own words
// in a WeCom chat.
const (
	SourceWeComKeyword = "wecom_keyword" // 退订: opted out
	SourceWeComOptIn   = "wecom_optin"   // 订阅: opted in again
)

// Consent is one change of a consent, for one or more persons.
type Consent struct {
	Channel string `json:"channel"` // wecom, webhook, ...; "" or "*": every channel
	Kind    string `json:"kind"`    // KindOptOut or KindSensitiveConsent
	// Granted: true records the opt-out or the consent, false withdraws
	// (undoes) it.
	Granted bool `json:"granted"`
	// Source is where the decision was made: for a separate consent the
	// form or request it was given by (paper_form, wecom_form, web_form,
	// customer_request, an import's name); SourceWeComKeyword and
	// SourceWeComOptIn for the customer's chat messages; api for an
	// opt-out staff recorded.
	Source string `json:"source"`
	// Evidence points at the record of it: a form or ticket number, a
	// URL, a WeCom message id. Required to grant a separate consent and
	// for the customer's opt-in.
	Evidence string `json:"evidence,omitempty"`
	// Reason is why an admin undid an opt-out (required then).
	Reason string `json:"reason,omitempty"`
	// Actor is who recorded it (an API token id; "" for the platform).
	Actor string `json:"actor,omitempty"`
}

// Bounds of a consent's texts, in characters.
const (
	maxConsentSource   = 64
	maxConsentEvidence = 500
	minConsentReason   = 4
	maxConsentReason   = 200
)

func (c *Consent) validate() error {
	if c.Channel == "" {
		c.Channel = "*"
	}
	c.Source, c.Evidence, c.Reason = strings.TrimSpace(c.Source), strings.TrimSpace(c.Evidence), strings.TrimSpace(c.Reason)
	switch {
	case c.Kind != KindOptOut && c.Kind != KindSensitiveConsent:
		return &FieldError{"kind", "must be opt_out or sensitive_consent"}
	case c.Source == "" || utf8.RuneCountInString(c.Source) > maxConsentSource:
		return &FieldError{"source", fmt.Sprintf("is required (at most %d characters): where the decision was made", maxConsentSource)}
	case utf8.RuneCountInString(c.Evidence) > maxConsentEvidence:
		return &FieldError{"evidence", fmt.Sprintf("at most %d characters", maxConsentEvidence)}
	case utf8.RuneCountInString(c.Reason) > maxConsentReason:
		return &FieldError{"reason", fmt.Sprintf("at most %d characters", maxConsentReason)}
	case c.Kind == KindSensitiveConsent && c.Granted && c.Evidence == "":
		return &FieldError{"evidence", "a separate consent needs its evidence: the form, ticket or message it was given by"}
	case c.Kind == KindOptOut && !c.Granted && c.Source == SourceWeComOptIn && c.Evidence == "":
		return &FieldError{"evidence", "the customer's opt-in needs the message id"}
	case c.Kind == KindOptOut && !c.Granted && c.Source != SourceWeComOptIn && utf8.RuneCountInString(c.Reason) < minConsentReason:
		return &FieldError{"reason", fmt.Sprintf("an opt-out is undone only by the customer's own opt-in or by an admin with a reason (%d-%d characters)",
			minConsentReason, maxConsentReason)}
	}
	return nil
}

// UndoesOptOut tells whether the change reverses an opt-out.
func (c Consent) UndoesOptOut() bool { return c.Kind == KindOptOut && !c.Granted }

// GrantsSensitive tells whether the change grants a separate consent.
func (c Consent) GrantsSensitive() bool { return c.Kind == KindSensitiveConsent && c.Granted }

// SetConsent records a consent change for one person.
func (s *Service) SetConsent(ctx context.Context, person uint32, c Consent) error {
	return s.SetConsents(ctx, []uint32{person}, c)
}

// SetConsents records the same consent change for many persons at once
// (an imported consent list, a form's answers). Problems are *FieldError;
// nothing is written then.
func (s *Service) SetConsents(ctx context.Context, persons []uint32, c Consent) error {
	if err := c.validate(); err != nil {
		return err
	}
	g := uint8(0)
	if c.Granted {
		g = 1
	}
	ts := s.stamp()
	rows := make([][]any, len(persons))
	for i, p := range persons {
		rows[i] = []any{p, c.Channel, c.Kind, g, c.Source, c.Evidence, c.Reason, c.Actor, ts}
	}
	tok := fmt.Sprintf("consent:%s:%s:%d:%s:%d", c.Kind, c.Channel, g, c.Source, ts.UnixNano())
	return s.insert(ctx, "write consents", "consents", []string{"person_id", "channel", "kind", "granted", "source", "evidence", "reason", "actor", "ts"}, tok, rows)
}

// vocabulary is the sensitive vocabulary now: the built-in terms and every
// tag ever marked sensitive on a person (a tag once sensitive stays so:
// the flag is the category's, whatever row carried it).
func (s *Service) vocabulary(ctx context.Context) (*segments.Vocabulary, error) {
	var tags []string
	err := s.each(ctx, "read sensitive tags", "SELECT DISTINCT toString(tag) FROM "+s.DB.Table("person_tags")+" WHERE sensitive = 1", nil,
		func(rows driver.Rows) error {
			var t string
			if err := rows.Scan(&t); err != nil {
				return err
			}
			tags = append(tags, t)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return segments.NewVocabulary(SensitiveTerms, tags), nil
}

// ConditionSensitivity tells why a compiled rule (a journey's branch
// condition) touches a sensitive category, with the vocabulary segments
// are judged by (nil: it does not).
func (s *Service) ConditionSensitivity(ctx context.Context, c *segments.Compiled) (*segments.Finding, error) {
	v, err := s.vocabulary(ctx)
	if err != nil {
		return nil, err
	}
	return segments.Sensitivity(c, s.Segments, v), nil
}

// sensitivity tells why a segment touches a sensitive category (nil: it
// does not), from its compiled rule and those it reads, as saved now: a
// segment changed after the campaign was saved is judged at planning.
func (s *Service) sensitivity(ctx context.Context, segmentID string) (*segments.Finding, error) {
	v, err := s.vocabulary(ctx)
	if err != nil {
		return nil, err
	}
	f := segments.SegmentSensitivity(segmentID, s.Segments, v)
	if f != nil && f.Unresolved && len(f.Path) == 0 {
		return nil, ErrNotFound // the campaign's own segment is gone
	}
	return f, nil
}

// The customer's own words in a WeCom chat (one-to-one, written by the
// customer, not recalled):
//   - OptOutKeyword anywhere in a message opts them out of WeCom campaigns
//     at once (PIPL art. 24: an easy way to refuse);
//   - a message that is OptInKeyword and nothing else (spaces and
//     punctuation aside: "订阅！") opts them in again. A mere mention
//     ("取消订阅") is not an opt-in.
const (
	OptOutKeyword = "退订"
	OptInKeyword  = "订阅"
)

// ScanOptOuts applies the opt-out and opt-in keywords of persons' WeCom
// messages. Per person the latest such message (by message time) decides,
// unless staff or an admin recorded a WeCom opt-out change after it: an
// admin's reversal is not undone by an old 退订, an opt-out staff recorded
// is not undone by an old 订阅. Only a change of state is written, so
// scanning again records nothing. The ingest pipeline calls it after a
// batch with chat messages. It returns how many persons changed.
func (s *Service) ScanOptOuts(ctx context.Context, persons []uint32) (int, error) {
	if len(persons) == 0 {
		return 0, nil
	}
	outs, ins, err := s.keywordChanges(ctx, persons)
	if err != nil {
		return 0, err
	}
	if len(outs) > 0 {
		if err := s.SetConsents(ctx, outs, Consent{Channel: ChannelWeCom, Kind: KindOptOut, Granted: true, Source: SourceWeComKeyword}); err != nil {
			return 0, err
		}
	}
	for _, in := range ins {
		if err := s.SetConsent(ctx, in.person, Consent{Channel: ChannelWeCom, Kind: KindOptOut, Granted: false,
			Source: SourceWeComOptIn, Evidence: "wecom message " + in.msgid}); err != nil {
			return len(outs), err
		}
	}
	return len(outs) + len(ins), nil
}

// optIn is a customer's opt-in message.
type optIn struct {
	person uint32
	msgid  string
}

// keywordChanges reads which of persons' latest keyword messages change
// their WeCom opt-out (see ScanOptOuts): who opts out, who opts in.
func (s *Service) keywordChanges(ctx context.Context, persons []uint32) (outs []uint32, ins []optIn, err error) {
	canon := schema.Canonical(s.DB.Table("persons"), "")
	wecomOptOuts := func(where, agg string) string {
		return "(SELECT p.canonical AS canonical, " + agg + " FROM " + s.DB.Table("consents") + " AS c INNER JOIN " + canon +
			" AS p ON p.person_id = c.person_id WHERE c.kind = 'opt_out' AND c.channel = 'wecom'" + where + " GROUP BY p.canonical)"
	}
	q := `SELECT m.canonical, m.optin, m.msgid, m.at, st.by_staff, now.granted
		FROM (SELECT p.canonical AS canonical, argMax(x.optin, x.msgtime) AS optin, argMax(x.msgid, x.msgtime) AS msgid, max(x.msgtime) AS at
			FROM (SELECT person_id, msgid, msgtime, positionUTF8(content, {opt_out:String}) = 0 AS optin FROM ` + s.DB.Table("wecom_messages_visible") + `
				WHERE person_id IN {persons:Array(UInt32)} AND from = external_userid
					AND (positionUTF8(content, {opt_out:String}) > 0 OR replaceRegexpAll(content, '[\\s\\p{P}\\p{Cf}]', '') = {opt_in:String})) AS x
			INNER JOIN ` + canon + ` AS p ON p.person_id = x.person_id
			GROUP BY p.canonical) AS m
		LEFT JOIN ` + wecomOptOuts(" AND c.source NOT IN ('wecom_keyword', 'wecom_optin')", "max(c.ts) AS by_staff") + ` AS st ON st.canonical = m.canonical
		LEFT JOIN ` + wecomOptOuts("", "argMax(c.granted, c.ts) AS granted") + ` AS now ON now.canonical = m.canonical`
	args := []any{named("opt_out", OptOutKeyword), named("opt_in", OptInKeyword), named("persons", persons)}
	err = s.each(ctx, "read opt-out and opt-in messages", q, args, func(rows driver.Rows) error {
		var p uint32
		var in bool
		var msgid string
		var at, byStaff time.Time
		var granted uint8
		if err := rows.Scan(&p, &in, &msgid, &at, &byStaff, &granted); err != nil {
			return err
		}
		switch {
		case !at.After(byStaff): // staff or an admin decided after the message
		case in && granted == 1:
			ins = append(ins, optIn{p, msgid})
		case !in && granted == 0:
			outs = append(outs, p)
		}
		return nil
	})
	return outs, ins, err
}
