package wecom

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecryptMessage feeds arbitrary ciphertext, correctly signed so that it
// reaches the decryptor: it must never panic, and whatever it accepts must
// survive a round trip.
func FuzzDecryptMessage(f *testing.F) {
	c := newTestCrypto(f)
	good, _, err := c.Encrypt([]byte("<xml/>"), "1", "n")
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(good)
	f.Add(raw)
	f.Add(make([]byte, 32))
	f.Add(make([]byte, 64))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ct []byte) {
		enc := base64.StdEncoding.EncodeToString(ct)
		msg, err := c.DecryptMessage(c.Signature("1", "n", enc), "1", "n", envelopeXML(enc))
		if err != nil {
			if !errors.Is(err, ErrBadPayload) && !errors.Is(err, ErrWrongReceiver) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		enc2, sig2, err := c.Encrypt(msg, "2", "m")
		if err != nil {
			t.Fatal(err)
		}
		back, err := c.VerifyURL(sig2, "2", "m", enc2)
		if err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("round trip of accepted message: %q, %v", back, err)
		}
	})
}

// FuzzEncryptRoundTrip: every message, including empty and binary ones,
// comes back unchanged through EncryptedXML and DecryptMessage.
func FuzzEncryptRoundTrip(f *testing.F) {
	c := newTestCrypto(f)
	f.Add([]byte(""), "1700000000", "nonce")
	f.Add([]byte(addContactXML), "1", "")
	f.Add(bytes.Repeat([]byte{32}, 45), "]]>", "<&>")
	f.Fuzz(func(t *testing.T, msg []byte, ts, nonce string) {
		body, sig, err := c.EncryptedXML(msg, "1000002", ts, nonce)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.DecryptMessage(sig, ts, nonce, body)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("DecryptMessage = %q, %v; want %q", got, err, msg)
		}
		if _, err := c.DecryptMessage(sig+"0", ts, nonce, body); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("longer signature accepted: %v", err)
		}
	})
}

// FuzzParseEvent: no panic; an accepted event has its required fields and a
// DedupKey whose separator appears in no field.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(addContactXML))
	f.Add([]byte(`<xml><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>change_external_chat</Event><ChangeType>update</ChangeType><ChatId>c</ChatId></xml>`))
	f.Add([]byte(`<xml><CreateTime>1</CreateTime><MsgType>text</MsgType><MsgId>9</MsgId></xml>`))
	f.Add([]byte(`<xml><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>x</Event><UserID>&#31;</UserID></xml>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseEvent(data)
		if err != nil {
			return
		}
		if ev.MsgType == "" || ev.CreateTime.Unix() <= 0 {
			t.Fatalf("accepted event without MsgType or CreateTime: %+v", ev)
		}
		if ev.Event == EventChangeExternalContact && (ev.UserID == "" || ev.ExternalUserID == "" || ev.ChangeType == "") {
			t.Fatalf("accepted contact event without its ids: %+v", ev)
		}
		for _, s := range []string{ev.FromUserName, ev.Event, ev.ChangeType, ev.UserID, ev.ExternalUserID,
			ev.ChatID, ev.UpdateDetail, ev.TagType, ev.TagID, ev.StrategyID} {
			if strings.Contains(s, dedupSep) {
				t.Fatalf("field %q contains the DedupKey separator", s)
			}
		}
		if ev.DedupKey() == "" {
			t.Fatal("empty DedupKey")
		}
	})
}

// FuzzParseArchiveLine: no panic; invalid UTF-8 is always rejected; an
// accepted record has its required fields.
func FuzzParseArchiveLine(f *testing.F) {
	f.Add([]byte(`{"msgid":"m","action":"send","from":"a","tolist":["b"],"roomid":"","msgtime":1547087894783,"msgtype":"text","text":{"content":"hi"}}`))
	f.Add([]byte(`{"msgid":"m","action":"recall","from":"a","msgtime":1,"msgtype":"revoke","revoke":{"pre_msgid":"p"}}`))
	f.Add([]byte(`{"msgid":"m","action":"switch","time":1,"user":"u"}`))
	f.Add([]byte("{\"msgid\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := ParseArchiveLine(line)
		if !utf8.Valid(line) {
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("invalid UTF-8 not rejected: %v", err)
			}
			return
		}
		if err != nil {
			return
		}
		if m.MsgID == "" || m.From == "" || m.MsgType == "" || m.MsgTime.UnixMilli() <= 0 {
			t.Fatalf("accepted record without required fields: %+v", m)
		}
		switch m.Action {
		case ActionSend, ActionRecall, ActionSwitch:
		default:
			t.Fatalf("accepted action %q", m.Action)
		}
	})
}

// FuzzReader: any stream ends in io.EOF after at most one result per line,
// and line numbers in errors increase.
func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"msgid\":\"m\",\"action\":\"switch\",\"time\":1,\"user\":\"u\"}\n\n{bad}\r\n\xff\n"))
	f.Add([]byte(""))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewReader(bytes.NewReader(stream))
		lines := bytes.Count(stream, []byte("\n")) + 1
		last := 0
		for results := 0; ; results++ {
			if results > lines {
				t.Fatalf("%d results for %d lines", results, lines)
			}
			_, err := r.Read()
			if err == io.EOF {
				return
			}
			var le *LineError
			if err != nil && !errors.As(err, &le) {
				t.Fatalf("unexpected error: %v", err)
			}
			if r.Line() <= last || r.Line() > lines {
				t.Fatalf("line %d after %d (of %d)", r.Line(), last, lines)
			}
			last = r.Line()
		}
	})
}
