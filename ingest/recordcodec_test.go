package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// fill sets every field of v (a pointer) to a random non-zero value,
// recursing into structs, pointers and slices, so that a field the codec
// forgets reads back different.
func fill(t *testing.T, rnd *rand.Rand, v reflect.Value) {
	switch x := v.Addr().Interface().(type) {
	case *time.Time:
		*x = time.Unix(rnd.Int64N(4e9)-1e9, rnd.Int64N(1e9)).UTC()
		return
	case *decimal.Decimal:
		*x = decimal.New(rnd.Int64N(1e12)-5e11, -int32(rnd.IntN(6)))
		return
	case *json.RawMessage:
		*x = json.RawMessage(fmt.Sprintf(`{"k":%d,"s":"控糖"}`, rnd.IntN(1000)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d-低GI\x00\"", rnd.IntN(1e6)))
	case reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1 + rnd.Uint64N(1<<16-1))
	case reflect.Int:
		v.SetInt(1 + rnd.Int64N(1e6))
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, rnd, v.Field(i))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, rnd, v.Elem())
	case reflect.Slice:
		n := 1 + rnd.IntN(3)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(t, rnd, v.Index(i))
		}
	default:
		t.Fatalf("fill: no rule for %s (%s): teach the codec and this test the new field", v.Type(), v.Kind())
	}
}

// newPayload sets a record's kind and an empty payload of it, and returns
// the payload.
var newPayload = []func(r *Record) any{
	func(r *Record) any { r.Kind, r.Event = KindEvent, &Event{}; return r.Event },
	func(r *Record) any { r.Kind, r.Order = KindOrder, &Order{}; return r.Order },
	func(r *Record) any { r.Kind, r.Contact = KindContact, &Contact{}; return r.Contact },
	func(r *Record) any { r.Kind, r.Message = KindMessage, &Message{}; return r.Message },
}

// TestRecordCodecRoundTripsEveryField encodes records of every kind with
// every field set (by reflection, so a field added later is covered) and
// checks the decoded record is the same, field for field (compared as
// JSON, which spells out every field).
func TestRecordCodecRoundTripsEveryField(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		var r Record
		payload := reflect.ValueOf(newPayload[i%len(newPayload)](&r)).Elem()
		fill(t, rnd, payload)
		if i%8 < 4 {
			fill(t, rnd, reflect.ValueOf(&r.Vault).Elem())
		}
		b, err := encodeRecord(&r)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != recordFormat {
			t.Fatalf("%s record not in the binary format: %q", r.Kind, b[:1])
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("%s: %v", r.Kind, err)
		}
		want, _ := json.Marshal(&r)
		have, _ := json.Marshal(got)
		if !bytes.Equal(want, have) {
			t.Fatalf("%s record changed in the round trip:\nwant %s\nhave %s", r.Kind, want, have)
		}
		// Every strict prefix is refused, never read as a shorter record.
		for cut := range len(b) {
			if _, err := decodeRecord(b[:cut]); err == nil {
				t.Fatalf("%s record cut at %d of %d bytes was accepted", r.Kind, cut, len(b))
			}
		}
	}
}

// TestRecordCodecEmptyAndNilFieldsRoundTrip keeps what JSON kept: a nil
// ToList stays nil (stored as []), an empty one empty, absent raw JSON
// absent.
func TestRecordCodecEmptyAndNilFieldsRoundTrip(t *testing.T) {
	for _, r := range []*Record{
		{Kind: KindMessage, Message: &Message{MsgID: "a"}},
		{Kind: KindMessage, Message: &Message{MsgID: "b", ToList: []string{}}},
		{Kind: KindEvent, Event: &Event{MessageID: "c"}},
		{Kind: KindOrder, Order: &Order{OrderID: "d"}},
	} {
		b, err := encodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(r)
		have, _ := json.Marshal(got)
		if !bytes.Equal(want, have) {
			t.Fatalf("want %s\nhave %s", want, have)
		}
		if r.Message != nil && (r.Message.ToList == nil) != (got.Message.ToList == nil) {
			t.Fatalf("ToList nil-ness changed: %v -> %v", r.Message.ToList, got.Message.ToList)
		}
	}
}

// TestRecordsSpooledAsJSONStillDecode reads records an older version
// spooled as JSON (still there after an upgrade) and dead letters, which
// stay JSON.
func TestRecordsSpooledAsJSONStillDecode(t *testing.T) {
	old := []byte(`{"k":"event","e":{"message_id":"m1","type":"track","event":"video_play","ts":"2026-11-11T08:00:00+08:00","received_at":"2026-11-11T00:00:01Z","source":"web","ids":[{"type":"anonymous_id","value":"dev-1"}],"properties":{"topic":"控糖"}}}`)
	r, err := decodeRecord(old)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindEvent || r.Event.MessageID != "m1" || !r.Event.TS.Equal(time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)) || string(r.Event.Properties) != `{"topic":"控糖"}` {
		t.Fatalf("old JSON record read as %+v", r.Event)
	}
	dl := &Record{Kind: KindDeadLetter, DeadLetter: &DeadLetter{Source: "web", Endpoint: "/v1/batch", Position: 3, Problem: Problem{Code: "invalid", Message: "x"}, Payload: "{}"}}
	b, err := encodeRecord(dl)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRecord(b)
	if err != nil || got.DeadLetter == nil || got.DeadLetter.Position != 3 || got.DeadLetter.Code != "invalid" {
		t.Fatalf("dead letter read as %+v, %v", got, err)
	}
}

func BenchmarkRecordCodec(b *testing.B) {
	rnd := rand.New(rand.NewPCG(1, 2))
	r := &Record{Kind: KindEvent, Event: &Event{}}
	fill(&testing.T{}, rnd, reflect.ValueOf(r.Event).Elem())
	b.Run("binary", func(b *testing.B) {
		for b.Loop() {
			buf, _ := encodeRecord(r)
			if _, err := decodeRecord(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			buf, _ := json.Marshal(r)
			var back Record
			if err := json.Unmarshal(buf, &back); err != nil {
				b.Fatal(err)
			}
		}
	})
}
