package wecom

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // SHA1 is mandated by the WeCom signature scheme.
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Layout of the WeCom callback ciphertext (document/path/91144).
const (
	encodingAESKeyLen = 43 // base64 of 32 bytes without its trailing "="
	aesKeyLen         = 32 // AES-256
	padBlockSize      = 32 // WeCom pads to 32 bytes, not to the 16-byte AES block
	randomPrefixLen   = 16
	headerLen         = randomPrefixLen + 4 // random prefix + big-endian message length
)

// Crypto verifies, decrypts and produces WeCom callback payloads for one
// callback configuration (Token, EncodingAESKey, ReceiveId).
//
// A Crypto is immutable after NewCrypto and safe for concurrent use.
type Crypto struct {
	token     string
	receiveID string
	key       []byte // 32 bytes; its first 16 bytes are the CBC IV
}

// NewCrypto returns a Crypto for the callback Token, the 43-character
// EncodingAESKey and the ReceiveId every payload must carry (the corp id for
// a corp's own application). It fails with an error wrapping ErrBadKey that
// says what is wrong with the key, or when token or receiveID is empty.
func NewCrypto(token, encodingAESKey, receiveID string) (*Crypto, error) {
	if token == "" {
		return nil, errors.New("wecom: callback token is empty")
	}
	if receiveID == "" {
		return nil, errors.New("wecom: receive id (corp id) is empty")
	}
	key, err := decodeAESKey(encodingAESKey)
	if err != nil {
		return nil, err
	}
	return &Crypto{token: token, receiveID: receiveID, key: key}, nil
}

// decodeAESKey is AESKey = Base64-decode(EncodingAESKey + "=").
func decodeAESKey(encodingAESKey string) ([]byte, error) {
	if n := len(encodingAESKey); n != encodingAESKeyLen {
		return nil, fmt.Errorf("%w: must be %d characters, got %d", ErrBadKey, encodingAESKeyLen, n)
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil {
		return nil, fmt.Errorf("%w: not base64: %w", ErrBadKey, err)
	}
	if len(key) != aesKeyLen { // the decoder skips '\r' and '\n'
		return nil, fmt.Errorf("%w: decodes to %d bytes, want %d", ErrBadKey, len(key), aesKeyLen)
	}
	return key, nil
}

// Signature returns msg_signature: the lowercase hex SHA1 of token,
// timestamp, nonce and encrypted, sorted lexicographically and concatenated.
func (c *Crypto) Signature(timestamp, nonce, encrypted string) string {
	parts := []string{c.token, timestamp, nonce, encrypted}
	slices.Sort(parts)
	h := sha1.New() //nolint:gosec // mandated by the protocol
	for _, p := range parts {
		_, _ = io.WriteString(h, p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// verify compares msgSignature with the expected signature in constant time.
func (c *Crypto) verify(msgSignature, timestamp, nonce, encrypted string) error {
	want := c.Signature(timestamp, nonce, encrypted)
	if subtle.ConstantTimeCompare([]byte(msgSignature), []byte(want)) != 1 {
		return ErrBadSignature
	}
	return nil
}

// VerifyURL answers WeCom's URL verification GET: it verifies msgSignature
// over echostr, decrypts echostr and returns the plaintext to write back as
// the response body. The arguments are the query values already URL-decoded
// (r.URL.Query().Get). Errors wrap ErrBadSignature, ErrBadPayload or
// ErrWrongReceiver.
func (c *Crypto) VerifyURL(msgSignature, timestamp, nonce, echostr string) ([]byte, error) {
	if err := c.verify(msgSignature, timestamp, nonce, echostr); err != nil {
		return nil, err
	}
	return c.decrypt(echostr)
}

// envelope is the XML body of a callback POST. The cdata type lets the same
// struct parse WeCom's envelope and produce an identical one.
type envelope struct {
	XMLName    xml.Name `xml:"xml"`
	ToUserName cdata    `xml:"ToUserName"`
	Encrypt    cdata    `xml:"Encrypt"`
	AgentID    cdata    `xml:"AgentID"`
}

type cdata struct {
	Text string `xml:",cdata"`
}

// DecryptMessage verifies and decrypts a callback POST. body is the request
// body (<xml><ToUserName/><Encrypt/><AgentID/></xml>); the signature is checked
// over its Encrypt value before anything is decrypted, so malformed ciphertext
// is only ever seen from WeCom (no padding oracle). It returns the decrypted
// message XML, which the caller owns. Errors wrap ErrBadPayload,
// ErrBadSignature or ErrWrongReceiver. The caller bounds the body size.
func (c *Crypto) DecryptMessage(msgSignature, timestamp, nonce string, body []byte) ([]byte, error) {
	var env envelope
	if err := xml.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope XML: %w", ErrBadPayload, err)
	}
	if env.Encrypt.Text == "" {
		return nil, fmt.Errorf("%w: envelope has no Encrypt element", ErrBadPayload)
	}
	if err := c.verify(msgSignature, timestamp, nonce, env.Encrypt.Text); err != nil {
		return nil, err
	}
	return c.decrypt(env.Encrypt.Text)
}

// decrypt turns a base64 ciphertext into the message it frames and checks
// the ReceiveId.
func (c *Crypto) decrypt(encrypted string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64: %w", ErrBadPayload, err)
	}
	if len(ct) == 0 || len(ct)%padBlockSize != 0 {
		return nil, fmt.Errorf("%w: ciphertext is %d bytes, not a positive multiple of %d", ErrBadPayload, len(ct), padBlockSize)
	}
	block, err := aes.NewCipher(c.key)
	if err != nil {
		panic("BUG: AES key of 32 bytes rejected: " + err.Error())
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, c.key[:aes.BlockSize]).CryptBlocks(pt, ct)
	pt, err = unpad(pt)
	if err != nil {
		return nil, err
	}
	msg, receiveID, err := unframe(pt)
	if err != nil {
		return nil, err
	}
	if string(receiveID) != c.receiveID {
		return nil, fmt.Errorf("%w: receive id %q, want %q", ErrWrongReceiver, receiveID, c.receiveID)
	}
	return msg, nil
}

// unpad strips PKCS#7 padding of 1..32 bytes, checking every padding byte.
// b is non-empty and a multiple of 32 bytes long.
func unpad(b []byte) ([]byte, error) {
	n := int(b[len(b)-1])
	if n < 1 || n > padBlockSize {
		return nil, fmt.Errorf("%w: padding length %d outside 1..%d", ErrBadPayload, n, padBlockSize)
	}
	for _, p := range b[len(b)-n:] {
		if int(p) != n {
			return nil, fmt.Errorf("%w: inconsistent padding bytes", ErrBadPayload)
		}
	}
	return b[:len(b)-n], nil
}

// unframe splits random(16) + length(4, big-endian) + message + ReceiveId.
func unframe(pt []byte) (msg, receiveID []byte, err error) {
	if len(pt) < headerLen {
		return nil, nil, fmt.Errorf("%w: plaintext is %d bytes, shorter than the %d-byte header", ErrBadPayload, len(pt), headerLen)
	}
	n := binary.BigEndian.Uint32(pt[randomPrefixLen:headerLen])
	rest := pt[headerLen:]
	if uint64(n) > uint64(len(rest)) {
		return nil, nil, fmt.Errorf("%w: message length %d exceeds the %d bytes present", ErrBadPayload, n, len(rest))
	}
	return rest[:n], rest[n:], nil
}

// Encrypt encrypts msg exactly as WeCom does (16 random bytes, big-endian
// length, msg, ReceiveId, PKCS#7 padding to 32 bytes, AES-256-CBC with the
// key's first 16 bytes as IV, base64) and returns the ciphertext with its
// msg_signature for timestamp and nonce.
func (c *Crypto) Encrypt(msg []byte, timestamp, nonce string) (encrypted, signature string, err error) {
	if uint64(len(msg)) > math.MaxUint32 {
		return "", "", fmt.Errorf("wecom: message of %d bytes exceeds the 4-byte length field", len(msg))
	}
	pt := make([]byte, headerLen, headerLen+len(msg)+len(c.receiveID)+padBlockSize)
	if _, err := io.ReadFull(rand.Reader, pt[:randomPrefixLen]); err != nil {
		return "", "", fmt.Errorf("wecom: random prefix: %w", err)
	}
	binary.BigEndian.PutUint32(pt[randomPrefixLen:headerLen], uint32(len(msg)))
	pt = append(pt, msg...)
	pt = pad(append(pt, c.receiveID...))
	block, err := aes.NewCipher(c.key)
	if err != nil {
		panic("BUG: AES key of 32 bytes rejected: " + err.Error())
	}
	cipher.NewCBCEncrypter(block, c.key[:aes.BlockSize]).CryptBlocks(pt, pt)
	encrypted = base64.StdEncoding.EncodeToString(pt)
	return encrypted, c.Signature(timestamp, nonce, encrypted), nil
}

// pad appends PKCS#7 padding up to a multiple of 32 bytes (1..32 bytes).
func pad(b []byte) []byte {
	n := padBlockSize - len(b)%padBlockSize
	for range n {
		b = append(b, byte(n))
	}
	return b
}

// EncryptedXML returns the POST body WeCom would send for msg,
// <xml><ToUserName>ReceiveId</ToUserName><Encrypt>…</Encrypt><AgentID>agentID</AgentID></xml>
// with CDATA sections, and the msg_signature to put in the query string
// together with timestamp and nonce. Fakes of WeCom in tests use it.
func (c *Crypto) EncryptedXML(msg []byte, agentID, timestamp, nonce string) (body []byte, signature string, err error) {
	encrypted, signature, err := c.Encrypt(msg, timestamp, nonce)
	if err != nil {
		return nil, "", err
	}
	body, err = xml.Marshal(envelope{
		ToUserName: cdata{c.receiveID},
		Encrypt:    cdata{encrypted},
		AgentID:    cdata{agentID},
	})
	if err != nil {
		return nil, "", fmt.Errorf("wecom: marshal envelope: %w", err)
	}
	return body, signature, nil
}
