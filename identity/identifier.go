// Package identity owns identifier types and their normalisation, the
// protection of personal identifiers at rest, and (growing) the identity
// graph that joins identifiers into persons.
package identity

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Identifier types the platform knows.
const (
	Phone               = "phone"
	UnionID             = "unionid"
	OpenID              = "openid" // per app: value is "<appid>:<openid>"
	DouyinOpenID        = "douyin_openid"
	WeComExternalUserID = "wecom_external_userid"
	MemberNo            = "member_no"
	TmallOUID           = "tmall_ouid"
	Email               = "email"
	DeviceID            = "device_id"
	AnonymousID         = "anonymous_id"
	UserID              = "user_id"
)

// Types lists every identifier type.
var Types = []string{Phone, UnionID, OpenID, DouyinOpenID, WeComExternalUserID, MemberNo, TmallOUID, Email, DeviceID, AnonymousID, UserID}

var knownType = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range Types {
		m[t] = true
	}
	return m
}()

// KnownType tells whether t is an identifier type.
func KnownType(t string) bool { return knownType[t] }

// Identifier is one typed identifier value. Phone values are stored only
// as their keyed hash (see Protector).
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// blockedValues are placeholders that SDKs and exports send instead of a
// real id; joining on them would merge strangers.
var blockedValues = map[string]bool{
	"": true, "0": true, "-1": true, "null": true, "nil": true, "none": true, "undefined": true,
	"anonymous": true, "guest": true, "unknown": true, "nan": true, "[object object]": true,
	"n/a": true, "test": true,
}

// Blocked tells whether a value is a placeholder rather than an id: a
// listed placeholder, or only zeros, dashes and spaces. It runs for every
// identifier of every record, so it avoids allocating.
func Blocked(value string) bool {
	v := strings.TrimSpace(value)
	zeros := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != '0' && c != '-' && c != ' ' && c != '\t' {
			zeros = false
			break
		}
	}
	if zeros {
		return true
	}
	if len(v) > 16 {
		return false // longer than any placeholder
	}
	return blockedValues[strings.ToLower(v)]
}

// mainlandMobile is an 11-digit mainland China mobile number.
var mainlandMobile = regexp.MustCompile(`^1[3-9]\d{9}$`)

// NormalizePhone returns a phone number in E.164 form (+8613812345678).
// Numbers without a country code are taken as mainland China (+86).
func NormalizePhone(raw string) (string, error) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(raw) {
		switch {
		case unicode.IsDigit(r) && r < 128:
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return "", fmt.Errorf("phone %s has the character %q", quoteMasked(raw), r)
		}
	}
	s := b.String()
	switch {
	case strings.HasPrefix(s, "+"):
	case strings.HasPrefix(s, "0086"):
		s = "+" + s[2:]
	case strings.HasPrefix(s, "86") && len(s) == 13:
		s = "+" + s
	default:
		s = "+86" + s
	}
	if strings.HasPrefix(s, "+86") {
		if !mainlandMobile.MatchString(s[3:]) {
			return "", fmt.Errorf("phone %s is not an 11-digit mainland mobile number", quoteMasked(raw))
		}
	} else if len(s) < 8 || len(s) > 16 {
		return "", fmt.Errorf("phone %s is not a valid international number", quoteMasked(raw))
	}
	if Blocked(s[3:]) {
		return "", fmt.Errorf("phone %s is a placeholder", quoteMasked(raw))
	}
	return s, nil
}

// quoteMasked quotes a refused value for an error message with its phone
// numbers and other long digit runs masked: messages reach clients, dead
// letters and logs.
func quoteMasked(raw string) string { return strconv.Quote(MaskDigitRuns(MaskMobiles(raw))) }

// maxIdentifierLen bounds identifier values; real ids are far shorter.
const maxIdentifierLen = 256

// Normalize checks and normalises an identifier value for its type. Phone
// numbers come back in E.164 form (the caller protects them); e-mail
// addresses lower-cased; other ids trimmed.
func Normalize(typ, value string) (string, error) {
	if !KnownType(typ) {
		return "", fmt.Errorf("unknown identifier type %q (known: %s)", typ, strings.Join(Types, ", "))
	}
	v := strings.TrimSpace(value)
	if len(v) > maxIdentifierLen {
		return "", fmt.Errorf("%s is longer than %d bytes", typ, maxIdentifierLen)
	}
	if Blocked(v) {
		return "", fmt.Errorf("%s %s is a placeholder, not an id", typ, quoteMasked(value))
	}
	switch typ {
	case Phone:
		return NormalizePhone(v)
	case Email:
		if !strings.Contains(v, "@") {
			return "", fmt.Errorf("email %s has no @", quoteMasked(value))
		}
		return strings.ToLower(v), nil
	}
	return v, nil
}
