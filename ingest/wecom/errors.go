package wecom

import "errors"

// Sentinel errors. Functions wrap them with %w and add the detail (field name,
// offending value), so callers match with errors.Is.
var (
	// ErrBadKey reports an EncodingAESKey that is not 43 base64 characters
	// decoding to a 32-byte AES key.
	ErrBadKey = errors.New("wecom: invalid EncodingAESKey")
	// ErrBadSignature reports a msg_signature that does not match the
	// SHA1 signature computed over token, timestamp, nonce and ciphertext.
	ErrBadSignature = errors.New("wecom: msg_signature mismatch")
	// ErrBadPayload reports an encrypted payload that is not valid base64,
	// not a whole number of 32-byte blocks, badly padded or badly framed.
	ErrBadPayload = errors.New("wecom: malformed encrypted payload")
	// ErrWrongReceiver reports a payload whose ReceiveId is not our corp id.
	ErrWrongReceiver = errors.New("wecom: payload addressed to another receiver")
	// ErrMissingField reports a required field that is absent or empty.
	ErrMissingField = errors.New("wecom: missing field")
	// ErrBadField reports a field whose value has the wrong type or range.
	ErrBadField = errors.New("wecom: invalid field")
	// ErrInvalidUTF8 reports input that is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("wecom: invalid UTF-8")
	// ErrLineTooLong reports an archive line longer than MaxArchiveLineBytes.
	ErrLineTooLong = errors.New("wecom: archive line too long")
)

// ErrOverLimit reports a request that breaks one of WeCom's documented size
// limits (recipients, attachments, content bytes); it is refused before any
// call is made.
var ErrOverLimit = errors.New("wecom: over a WeCom limit")
