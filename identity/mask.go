package identity

import "strings"

// What a reader of the API sees of a personal identifier. Display needs
// enough to recognise a customer and tell two values apart, never enough
// to find or contact the customer outside the platform:
//
//   - a phone shows its last four digits (*******5678), to every reader;
//     the number itself only through the audited reveal (admins);
//   - an e-mail address shows its first character and its domain
//     (s***@example.com), to every reader;
//   - the other identifiers (unionid, openids, WeCom and Tmall ids,
//     member numbers, user and device ids) show their last four
//     characters (****1234) to readers under MaskAll (analysts), and in
//     full to operators (ShowIDs: marketers, admins), who may also look a
//     person up by them and need them to match a case with the channel's
//     own back office.

// Disclosure says how much of the platform ids a reader sees; phones and
// e-mail addresses are masked whatever it is.
type Disclosure int

const (
	// MaskAll masks every identifier value (analysts).
	MaskAll Disclosure = iota
	// ShowIDs shows platform ids in full (marketers, admins).
	ShowIDs
)

// Personal tells whether an identifier type names a customer outside the
// platform: a contact channel (phone, e-mail), an account on WeChat,
// Douyin, WeCom or Tmall, or the brand's own member or user number (short
// and often sequential, so guessable). Looking a person up by one is
// reserved to marketers and admins and audited (docs/identity.md). The
// others, device_id and anonymous_id, are random ids an SDK makes per
// device or browser: nobody outside the platform can tell whose they are,
// and guessing one is hopeless.
func Personal(typ string) bool { return typ != DeviceID && typ != AnonymousID && KnownType(typ) }

// MaskPhone shows a phone with only its last four digits: *******5678 for
// a mainland number, +*********1234 for another country's. It takes an
// E.164 number or a mask made by an earlier version (+86 138****5678, which
// kept seven digits and is still stored for numbers ingested before), so
// every mask is brought down to the last four digits when shown.
func MaskPhone(phone string) string {
	s := strings.ReplaceAll(strings.TrimSpace(phone), " ", "")
	prefix := ""
	switch {
	case strings.HasPrefix(s, "+86"):
		s = s[3:]
	case strings.HasPrefix(s, "+"):
		prefix, s = "+", s[1:]
	}
	if len(s) <= 4 {
		return prefix + strings.Repeat("*", len(s))
	}
	return prefix + strings.Repeat("*", len(s)-4) + s[len(s)-4:]
}

// MaskEmail shows an e-mail address's first character and its domain:
// s***@example.com.
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@")
	if !ok || local == "" {
		return "***"
	}
	r := []rune(local)
	return string(r[0]) + "***@" + domain
}

// MaskID shows an id's last four characters (****1234); ids shorter than
// eight characters are masked whole, so that no more than half of one
// shows.
func MaskID(id string) string {
	r := []rune(id)
	if len(r) < 8 {
		return "****"
	}
	return "****" + string(r[len(r)-4:])
}

// MaskValue masks an identifier value of type typ for display under d. A
// phone's value must be a mask or a number, never its keyed hash (which
// shows as "***"): resolve hashes first (Service.PhoneMasks).
func MaskValue(typ, value string, d Disclosure) string {
	switch {
	case value == "":
		return ""
	case typ == Phone:
		if strings.HasPrefix(value, "h:") {
			return "***"
		}
		return MaskPhone(value)
	case typ == Email:
		return MaskEmail(value)
	case d == ShowIDs:
		return value
	}
	return MaskID(value)
}

// MaskPhonesInText masks the mobile numbers in free text (a chat, a
// search keyword, a trait): ingest's tokens ("[phone *******5678
// h:<hash>]", ScrubText) become their mask, since the keyed hash is a join
// key, not something to display; numbers in clear (stored before ingest
// scrubbed them) are masked by the scrubber's own rule (MaskMobiles), so
// full-width digits and URL-escaped separators are found, and a match
// inside a longer token (an order number, u13812345678) is left alone.
func MaskPhonesInText(s string) string {
	if strings.Contains(s, tokenPrefix) {
		s = mobileToken.ReplaceAllString(s, "$1")
	}
	return MaskMobiles(s)
}
