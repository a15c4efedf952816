package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Protector keeps personal identifiers (phone numbers) out of storage in
// the clear: a keyed hash (HMAC-SHA256) is what the platform stores, joins
// and segments on; an AES-256-GCM ciphertext is kept beside it for the one
// use that needs the number back (sending an SMS); a mask is kept for
// display.
//
// The key is 32 random bytes. Rotation: the hash key cannot change without
// re-hashing stored identifiers, so a rotation adds a new encryption key
// (key id prefix in each ciphertext) while the hash key stays; see
// docs/security.md.
type Protector struct {
	hashKey []byte
	encKey  []byte
	keyID   string
	aead    cipher.AEAD
}

// ErrBadCiphertext is returned when a ciphertext was not made by this key.
var ErrBadCiphertext = errors.New("identity: ciphertext not readable with this key")

// NewProtector derives the hash and encryption keys from a 32-byte master
// key.
func NewProtector(master []byte) (*Protector, error) {
	if len(master) != 32 {
		return nil, fmt.Errorf("identity: PII key must be 32 bytes, got %d", len(master))
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	p := &Protector{hashKey: derive("cdp identifier hash v1"), encKey: derive("cdp identifier encryption v1")}
	id := sha256.Sum256(p.encKey)
	p.keyID = hex.EncodeToString(id[:4])
	block, err := aes.NewCipher(p.encKey)
	if err != nil {
		return nil, err
	}
	if p.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return p, nil
}

// LoadOrCreateKey reads a key given as 64 hex characters (the value of
// CDP_PII_KEY when set), or from path, creating path with a new random key
// (mode 0600) when it does not exist.
func LoadOrCreateKey(hexKey, path string) ([]byte, error) {
	if hexKey != "" {
		k, err := hex.DecodeString(strings.TrimSpace(hexKey))
		if err != nil || len(k) != 32 {
			return nil, errors.New("CDP_PII_KEY must be 64 hex characters (32 bytes)")
		}
		return k, nil
	}
	if raw, err := os.ReadFile(path); err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(raw)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("PII key file %s must hold 64 hex characters", path)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(hex.EncodeToString(k) + "\n")
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return nil, err
	}
	return k, nil
}

// Hash returns the stored form of an identifier value: 32 hex characters
// of HMAC-SHA256 under the hash key, prefixed "h:" so a hashed value is
// never mistaken for a raw one.
func (p *Protector) Hash(value string) string {
	m := hmac.New(sha256.New, p.hashKey)
	m.Write([]byte(value))
	return "h:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// Encrypt returns "<keyid>:<base64(nonce|ciphertext)>".
func (p *Protector) Encrypt(value string) string {
	nonce := make([]byte, p.aead.NonceSize())
	_, _ = rand.Read(nonce)
	sealed := p.aead.Seal(nonce, nonce, []byte(value), []byte(p.keyID))
	return p.keyID + ":" + base64.RawStdEncoding.EncodeToString(sealed)
}

// Decrypt reverses Encrypt.
func (p *Protector) Decrypt(ct string) (string, error) {
	id, b64, ok := strings.Cut(ct, ":")
	if !ok || id != p.keyID {
		return "", ErrBadCiphertext
	}
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(raw) < p.aead.NonceSize() {
		return "", ErrBadCiphertext
	}
	n := p.aead.NonceSize()
	plain, err := p.aead.Open(nil, raw[:n], raw[n:], []byte(id))
	if err != nil {
		return "", ErrBadCiphertext
	}
	return string(plain), nil
}

// Protected is a phone number ready for storage.
type Protected struct {
	Hash       string `json:"hash"`
	Masked     string `json:"masked"`
	Ciphertext string `json:"ciphertext"`
}

// ProtectPhone normalises, hashes, masks and encrypts a phone number.
func (p *Protector) ProtectPhone(raw string) (Protected, error) {
	e164, err := NormalizePhone(raw)
	if err != nil {
		return Protected{}, err
	}
	return Protected{Hash: p.Hash(e164), Masked: MaskPhone(e164), Ciphertext: p.Encrypt(e164)}, nil
}
