package identity

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/granarycdp/cdp/schema"
)

// PhoneTraitKeys are the trait and property names that carry a phone
// number (lower-cased). Ingest masks their values before storage and makes
// the traits' ones phone identifiers; profiles mask them again for display.
var PhoneTraitKeys = []string{"phone", "mobile", "phone_number", "tel", "telephone"}

// PhoneTraitKey tells whether a trait or property named k (any case)
// carries a phone.
func PhoneTraitKey(k string) bool { return slices.Contains(PhoneTraitKeys, strings.ToLower(k)) }

// PhoneMasks maps phone hashes (as identity links, merges and conflicts
// store them) to their display masks (MaskPhone). A hash missing from the
// vault maps to "***".
func (s *Service) PhoneMasks(ctx context.Context, hashes []string) (map[string]string, error) {
	out := make(map[string]string, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	const query = "read phone masks"
	rows, err := s.DB.Conn.Query(ctx, "SELECT hash, masked FROM "+schema.Vault(s.DB.Table("pii_vault"), "hash IN ?"), hashes)
	if err != nil {
		return nil, queryErr(query, err)
	}
	defer rows.Close()
	for rows.Next() {
		var h, m string
		if err := rows.Scan(&h, &m); err != nil {
			return nil, queryErr(query, err)
		}
		out[h] = MaskPhone(m)
	}
	return out, queryErr(query, rows.Err())
}

// MaskIdentifiers masks identifier values in place for display under d,
// phone hashes resolved to their masks.
func (s *Service) MaskIdentifiers(ctx context.Context, ids []*Identifier, d Disclosure) error {
	var hashes []string
	for _, id := range ids {
		if id.Type == Phone && strings.HasPrefix(id.Value, "h:") {
			hashes = append(hashes, id.Value)
		}
	}
	masks, err := s.PhoneMasks(ctx, hashes)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if m, ok := masks[id.Value]; ok && id.Type == Phone {
			id.Value = m
			continue
		}
		id.Value = MaskValue(id.Type, id.Value, d)
	}
	return nil
}

// MaskMerges masks the identifiers of merges in place (their anchor and
// evidence) for display under d.
func (s *Service) MaskMerges(ctx context.Context, merges []Merge, d Disclosure) error {
	ids := make([]*Identifier, 0, 2*len(merges))
	for i := range merges {
		ids = append(ids, &merges[i].Anchor, &merges[i].Evidence)
	}
	return s.MaskIdentifiers(ctx, ids, d)
}

// maskProfile masks what the profile shows of personal identifiers for a
// reader under d: identifier values, the traits that name one, merge and
// conflict evidence, the customer's WeCom id on chat lines, and mobile
// numbers typed into chats and search keywords.
func (s *Service) maskProfile(ctx context.Context, pr *Profile, d Disclosure) error {
	customer := map[string]bool{} // the person's WeCom external ids, before masking
	for i := range pr.Identifiers {
		id := &pr.Identifiers[i]
		if id.Type == WeComExternalUserID {
			customer[id.Value] = true
		}
		shown := MaskValue(id.Type, id.Value, d)
		id.Masked = id.Type == Phone || shown != id.Value
		id.Value = shown
	}
	pr.Traits = maskTraits(pr.Traits, d)
	ids := make([]*Identifier, 0, 2*len(pr.Merges)+len(pr.Conflicts))
	for i := range pr.Merges {
		ids = append(ids, &pr.Merges[i].Anchor, &pr.Merges[i].Evidence)
	}
	for i := range pr.Conflicts {
		ids = append(ids, &pr.Conflicts[i].Identifier)
	}
	if err := s.MaskIdentifiers(ctx, ids, d); err != nil {
		return err
	}
	for i := range pr.Chats {
		c := &pr.Chats[i]
		c.FromCustomer = customer[c.From]
		if c.FromCustomer {
			c.From = MaskValue(WeComExternalUserID, c.From, d)
		}
		c.Content = MaskPhonesInText(c.Content)
	}
	for i := range pr.Timeline {
		t := &pr.Timeline[i]
		if t.Kind == "chat" && customer[t.Title] {
			t.Title = MaskValue(WeComExternalUserID, t.Title, d)
		}
		t.Detail = MaskPhonesInText(t.Detail)
	}
	return nil
}

// maskTraits masks a traits object's values, nested ones included: phone
// keys to MaskPhone, keys named after an identifier type as MaskValue
// does, and mobile numbers in any other text or number. Ingest already
// stores top-level phone keys masked and every other number as a scrubber
// token; tokens show as their mask (never their hash), older masks are
// brought down to the last four digits, and the rest is covered. Traits that are not a JSON object
// show as {}.
func maskTraits(raw json.RawMessage, d Disclosure) json.RawMessage {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return json.RawMessage("{}")
	}
	out, err := json.Marshal(maskTraitValue("", obj, d))
	if err != nil {
		return json.RawMessage("{}")
	}
	return out
}

// maskTraitValue masks v, found under key (lower-cased; "" in arrays).
func maskTraitValue(key string, v any, d Disclosure) any {
	var s string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = maskTraitValue(strings.ToLower(k), x, d)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = maskTraitValue(key, x, d)
		}
		return v
	case string:
		s = v
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return v
	}
	orig := s
	if strings.Contains(s, tokenPrefix) {
		// A scrubber token (a phone nested in traits, or one typed into
		// any other value) shows as its mask, never as its hash.
		s = MaskPhonesInText(s)
		if PhoneTraitKey(key) {
			return s
		}
	}
	switch {
	case PhoneTraitKey(key):
		return MaskPhone(s)
	case KnownType(key):
		return MaskValue(key, s, d)
	}
	if m := MaskPhonesInText(s); m != orig {
		return m
	}
	return v
}
