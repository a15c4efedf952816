package wecom

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"sort"
	"strings"
	"testing"
)

const (
	testToken     = "QDG6eK"
	testKey       = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
	testReceiveID = "wx5823bf96d3bd56c7"
)

func newTestCrypto(t testing.TB) *Crypto {
	t.Helper()
	c, err := NewCrypto(testToken, testKey, testReceiveID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handSignature computes msg_signature the way the document states it,
// independently of Crypto.Signature.
func handSignature(parts ...string) string {
	s := append([]string(nil), parts...)
	sort.Strings(s)
	sum := sha1.Sum([]byte(strings.Join(s, "")))
	return hex.EncodeToString(sum[:])
}

// handSeal encrypts plaintext with AES-256-CBC (IV = first 16 key bytes)
// without adding padding: plaintext must be a multiple of 16 bytes.
func handSeal(t testing.TB, encodingAESKey string, plaintext []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(plaintext))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plaintext)
	return base64.StdEncoding.EncodeToString(out)
}

// handFrame builds random(16) + length + msg + receiveID, without padding.
func handFrame(random string, msg, receiveID string) []byte {
	b := []byte(random)
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg)))
	return append(append(b, msg...), receiveID...)
}

// handPad appends n bytes of value n.
func handPad(b []byte, n int) []byte {
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

func envelopeXML(encrypted string) []byte {
	return []byte("<xml><ToUserName><![CDATA[" + testReceiveID + "]]></ToUserName><Encrypt><![CDATA[" +
		encrypted + "]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>")
}

// Vectors produced by WeCom's official callback test tool, as recorded in
// github.com/xen0n/go-workwx (internal/lowlevel/{signature,encryptor,envelope} tests, MIT).
func TestCryptoAcceptsVectorsFromWeComTool(t *testing.T) {
	t.Run("URL verification", func(t *testing.T) {
		c, err := NewCrypto("kjr2TKI8umCBfVF3wAHk8JiPwma5VBme", "4Ma3YBrSBbX2aez8MJpXGBne5LSDwgGqHbhM9WPYIws", "ww6a112864f8022910")
		if err != nil {
			t.Fatal(err)
		}
		echostr := "6KmUQuPVu7UhjyVqRdbo5SfcRqaHvbUlKSHFvBV2ZuR6TIlKsygcfeSd1GDplg1C5KSKr6UPHCaC/nIX3ZNt9w=="
		got, err := c.VerifyURL("1ba3cb09c0d2c2b3ed6900d37f91a6efae6cb011", "1583940690", "VHh7ymSeb0jc4lSb", echostr)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "94966531020182955848408" {
			t.Fatalf("echo plaintext = %q", got)
		}
	})
	t.Run("message POST", func(t *testing.T) {
		c, err := NewCrypto("kz7Yx62CH8SaLN", "cD0d7jx4tYvVtzqrmh3Dm3QFCXe6f8SlHoMtMh3qQEP", "ww6a112864f8022910")
		if err != nil {
			t.Fatal(err)
		}
		body := "<xml><ToUserName><![CDATA[ww6a112864f8022910]]></ToUserName><Encrypt><![CDATA[EUCt7xMcNiyASzZj0Hjc5yDjFQrCum6AfQ3ntHiUzjGQ51xieKmbvtrZ40/EcB2W/W8yH0n4Lqx48gJl/T9HD/R309I0P/r5pIZucK3lyEn48FYMr4YdE0QdL2jIJ3xkcXUr6uzefzCxG6lMvwpAJaOyVCzN7sRRw47njfxy5EIqU6R9ZBhlTzfdnhhOhK/nTwzrZX3SoGlXFA9OBeZ6ru1NWpXFk76x9DUMe0lcxPPiUqK8ctnQcYXSGUHVqC6DfG7E7mab0OmruNN8cBZY5d3dYOBA4OgaH55Q0AJmUpdT8vNiXpXx+6TxT3TIjySXpDrHVyrsb772aYywgg/Nu4kUmGkALwFZlzhjNegR7wDwb9lr4ERXsSSS8JZ8lbBmaQ3F2Tq584xoPj5rIhXAF734ynm4no1g+SdHiNqR328=]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
		want := "<xml><ToUserName><![CDATA[ww6a112864f8022910]]></ToUserName><FromUserName><![CDATA[foobar]]></FromUserName><CreateTime>1583995625</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[x123]]></Content><MsgId>2018405441</MsgId><AgentID>1000002</AgentID></xml>"
		got, err := c.DecryptMessage("f265ae551b1932727204c3d707628d01376a6940", "1583995625", "1584392382", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("message = %q", got)
		}
	})
}

func TestSignatureMatchesSHA1OfSortedStrings(t *testing.T) {
	tests := []struct {
		token, timestamp, nonce, encrypted string
		want                               string // "" = compare with handSignature only
	}{
		{"kjr2TKI8umCBfVF3wAHk8JiPwma5VBme", "1583940690", "VHh7ymSeb0jc4lSb",
			"6KmUQuPVu7UhjyVqRdbo5SfcRqaHvbUlKSHFvBV2ZuR6TIlKsygcfeSd1GDplg1C5KSKr6UPHCaC/nIX3ZNt9w==",
			"1ba3cb09c0d2c2b3ed6900d37f91a6efae6cb011"},
		{"token", "1409659813", "1372623149", "msg", ""},
		{"b", "a", "c", "d", ""},
		{"z", "", "", "", ""},
	}
	for _, tt := range tests {
		c, err := NewCrypto(tt.token, testKey, testReceiveID)
		if err != nil {
			t.Fatal(err)
		}
		got := c.Signature(tt.timestamp, tt.nonce, tt.encrypted)
		if hand := handSignature(tt.token, tt.timestamp, tt.nonce, tt.encrypted); got != hand {
			t.Errorf("Signature(%q,%q,%q) = %s, hand-computed %s", tt.timestamp, tt.nonce, tt.encrypted, got, hand)
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("Signature(%q,%q,%q) = %s, want %s", tt.timestamp, tt.nonce, tt.encrypted, got, tt.want)
		}
	}
}

// The ciphertext is built step by step with crypto/aes, so a symmetric
// mistake in Encrypt and decrypt cannot hide here.
func TestDecryptMessageOpensHandBuiltCiphertext(t *testing.T) {
	c := newTestCrypto(t)
	msg := "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Content><![CDATA[你好]]></Content></xml>"
	framed := handFrame("0123456789abcdef", msg, testReceiveID)
	padded := handPad(framed, 32-len(framed)%32)
	encrypted := handSeal(t, testKey, padded)
	sig := handSignature(testToken, "1409659813", "263014780", encrypted)

	got, err := c.DecryptMessage(sig, "1409659813", "263014780", envelopeXML(encrypted))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Fatalf("DecryptMessage = %q, want %q", got, msg)
	}
}

// Encrypt's output is opened by hand, checking each documented layer.
func TestEncryptProducesDocumentedLayout(t *testing.T) {
	c := newTestCrypto(t)
	for _, n := range []int{0, 1, 11, 12, 13, 44, 45, 1000} {
		msg := bytes.Repeat([]byte("m"), n)
		encrypted, sig, err := c.Encrypt(msg, "1409659813", "nonce")
		if err != nil {
			t.Fatal(err)
		}
		if want := handSignature(testToken, "1409659813", "nonce", encrypted); sig != want {
			t.Fatalf("len %d: signature %s, want %s", n, sig, want)
		}
		pt := handOpen(t, encrypted)
		pad := int(pt[len(pt)-1])
		if pad < 1 || pad > 32 || !bytes.Equal(pt[len(pt)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
			t.Fatalf("len %d: bad padding %d", n, pad)
		}
		pt = pt[:len(pt)-pad]
		if got := binary.BigEndian.Uint32(pt[16:20]); int(got) != n {
			t.Fatalf("len %d: length field %d", n, got)
		}
		if !bytes.Equal(pt[20:20+n], msg) || string(pt[20+n:]) != testReceiveID {
			t.Fatalf("len %d: framing %q", n, pt[20:])
		}
	}
}

func handOpen(t *testing.T, encrypted string) []byte {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(testKey + "=")
	ct, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil || len(ct)%32 != 0 {
		t.Fatalf("ciphertext %q: err %v, not whole 32-byte blocks", encrypted, err)
	}
	block, _ := aes.NewCipher(key)
	cipher.NewCBCDecrypter(block, key[:16]).CryptBlocks(ct, ct)
	return ct
}

func TestEncryptedXMLRoundTrips(t *testing.T) {
	c := newTestCrypto(t)
	msg := []byte("<xml><MsgType><![CDATA[event]]></MsgType></xml>")
	body, sig, err := c.EncryptedXML(msg, "1000002", "1700000000", "n0nce")
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		ToUserName, Encrypt, AgentID string
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	if env.ToUserName != testReceiveID || env.AgentID != "1000002" || env.Encrypt == "" {
		t.Fatalf("envelope %s", body)
	}
	if !bytes.Contains(body, []byte("<Encrypt><![CDATA["+env.Encrypt+"]]></Encrypt>")) {
		t.Fatalf("Encrypt not in CDATA: %s", body)
	}
	got, err := c.DecryptMessage(sig, "1700000000", "n0nce", body)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("DecryptMessage = %q, %v", got, err)
	}
}

func TestVerifyURLRoundTripsAndChecksSignature(t *testing.T) {
	c := newTestCrypto(t)
	encrypted, sig, err := c.Encrypt([]byte("echo-1234"), "1700000000", "n")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.VerifyURL(sig, "1700000000", "n", encrypted)
	if err != nil || string(got) != "echo-1234" {
		t.Fatalf("VerifyURL = %q, %v", got, err)
	}
	if _, err := c.VerifyURL(sig, "1700000001", "n", encrypted); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed timestamp: err %v, want ErrBadSignature", err)
	}
}

func TestNewCryptoRejects(t *testing.T) {
	tests := []struct {
		name, token, key, receiveID string
		wantBadKey                  bool
		wantInMsg                   string
	}{
		{"key of 42 characters", testToken, testKey[:42], testReceiveID, true, "got 42"},
		{"key of 44 characters", testToken, testKey + "A", testReceiveID, true, "got 44"},
		{"empty key", testToken, "", testReceiveID, true, "must be 43 characters"},
		{"key with non-base64 character", testToken, testKey[:42] + "$", testReceiveID, true, "not base64"},
		{"key with newline", testToken, testKey[:42] + "\n", testReceiveID, true, "EncodingAESKey"},
		{"empty token", "", testKey, testReceiveID, false, "token"},
		{"empty receive id", testToken, testKey, "", false, "receive id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCrypto(tt.token, tt.key, tt.receiveID)
			if err == nil || c != nil {
				t.Fatalf("NewCrypto succeeded")
			}
			if errors.Is(err, ErrBadKey) != tt.wantBadKey || !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestDecryptMessageRejects(t *testing.T) {
	const ts, nonce = "1409659813", "263014780"
	c := newTestCrypto(t)
	other, err := NewCrypto(testToken, testKey, "ww-other-corp")
	if err != nil {
		t.Fatal(err)
	}
	otherEnc, _, err := other.Encrypt([]byte("<xml/>"), ts, nonce)
	if err != nil {
		t.Fatal(err)
	}
	good, goodSig, err := c.Encrypt([]byte("<xml/>"), ts, nonce)
	if err != nil {
		t.Fatal(err)
	}
	framed := handFrame("0123456789abcdef", "<xml/>", testReceiveID) // 20+6+18 = 44 bytes
	seal := func(pt []byte) string { return handSeal(t, testKey, pt) }
	pad20 := func(b byte) []byte { return append(framed[:44:44], bytes.Repeat([]byte{b}, 20)...) }
	tests := []struct {
		name      string
		encrypted string
		sig       string // "" = correct signature of encrypted
		body      []byte // nil = envelope of encrypted
		want      error
	}{
		{"signature of other content", good, handSignature(testToken, ts, nonce, "x"), nil, ErrBadSignature},
		{"uppercase signature", good, strings.ToUpper(goodSig), nil, ErrBadSignature},
		{"empty signature", good, "-", nil, ErrBadSignature},
		{"other receiver", otherEnc, "", nil, ErrWrongReceiver},
		{"padding byte 0", seal(pad20(0)), "", nil, ErrBadPayload},
		{"padding byte 33", seal(pad20(33)), "", nil, ErrBadPayload},
		{"inconsistent padding", seal(append(handPad(framed[:43:43], 20), 21)), "", nil, ErrBadPayload},
		{"length beyond plaintext", seal(handPad(append(handFrame("0123456789abcdef", "", "")[:16], 0xff, 0xff, 0xff, 0xff), 12)), "", nil, ErrBadPayload},
		{"plaintext shorter than header", seal(handPad([]byte("0123456789abc"), 19)), "", nil, ErrBadPayload},
		{"ciphertext of one AES block", seal(make([]byte, 16)), "", nil, ErrBadPayload},
		{"not base64", "!!!!", "", nil, ErrBadPayload},
		{"empty Encrypt", "", "", nil, ErrBadPayload},
		{"not XML", good, "", []byte("Encrypt=" + good), ErrBadPayload},
		{"wrong root element", good, "", []byte("<foo><Encrypt>" + good + "</Encrypt></foo>"), ErrBadPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := tt.sig
			if sig == "" {
				sig = handSignature(testToken, ts, nonce, tt.encrypted)
			}
			body := tt.body
			if body == nil {
				body = envelopeXML(tt.encrypted)
			}
			got, err := c.DecryptMessage(sig, ts, nonce, body)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("DecryptMessage = %q, %v; want %v", got, err, tt.want)
			}
		})
	}
}
