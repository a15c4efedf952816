package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// trackSpecSeeds are tracking-spec bodies: the seeds of FuzzTrackSpecMessage,
// the messages and batches of ingest_test.go (accepted and refused), and
// shapes the scanner must hand back to encoding/json (escapes, case-folded
// and repeated keys, null, wrong types, trailing bytes).
var trackSpecSeeds = []string{
	`{"type":"track","event":"video_complete","userId":"u1","properties":{"topic":"控糖"}}`,
	`{"type":"identify","userId":123,"traits":{"phone":"13812345678","email":"A@B.CN"}}`,
	`{"type":"page","anonymousId":"a","originalTimestamp":"2026-11-20T09:00:00Z","sentAt":"2026-11-20T09:00:10Z"}`,
	`{"type":"track","event":"x","context":{"externalIds":[{"id":"1","type":"douyin_openid"}]}}`,
	`{"type":"alias","userId":"u","previousId":"p"}`,
	`{"type":"group","userId":"u","groupId":42,"traits":{"name":"<粮油>&"}}`,
	`{"messageId":"m-1","anonymousId":"dev-77","event":"video_complete","properties":{"topic":"控糖","video_id":"v9"},"timestamp":"2026-11-20T08:00:00Z"}`,
	`{"messageId":"id-1","userId":"u1","traits":{"phone":"138 1234 5678","name":"王阿姨","city":"上海"}}`,
	`{"type":"track","messageId":"bad-2","userId":"u1","event":"x","timestamp":"2027-06-01T00:00:00Z"}`,
	`{"type":"fly","messageId":"bad-3","userId":"u1"}`,
	`{"type":"identify","messageId":"bad-4","traits":{"phone":"13812345678x"}}`,
	`{"type":"track","messageId":"bad-5","event":"x","context":{"externalIds":[{"id":"1","type":"qq"}]}}`,
	`{"type":"track","messageId":"bad-6","event":"x"}`,
	"{\"event\":\"x\",\"userId\":\"\xff\"}",
	`{"event":`,
	`{"event":"x","userId":"u","properties":[1]}`,
	`{"event":"x","userId":{"a":1}}`,
	`{"event":"x","userId":"u","type":"page"}`,
	`{"event":"x","userId":"u","context":{"traits":{"Mobile":"13900001111"},"page":{"url":"https://a.cn/?tel=13900001111"}}}`,
	`{"type":"track","Event":"x","userId":"u"}`,
	`{"type":"track","event":"x","ev\u0065nt":"y","userId":"u"}`,
	`{"type":"track","event":"x","event":"y","userId":"u"}`,
	`{"type":"track","event":null,"userId":"u"}`,
	`{"type":"track","event":"a\"b\u00e9\ud800","userId":"u\t"}`,
	`{"type":"track","event":"x","userId":"u"} trailing`,
	`null`,
	`[]`,
	` {"type" : "screen" , "name" : " Home " , "anonymousId" : 1e3 , "sentAt" : null } `,
	`{"type":"track","event":"x","userId":1e999}`,
	`{"type":"track","event":"x","userId":"u","context":{"externalIds":null,"Traits":{"phone":"13900001111"}}}`,
	`{"type":"track","event":"x","context":{"externalIds":[{"ID":"a","type":"union_id"}]}}`,
	`{"type":"identify","userId":"u","traits":{"TEL":"13900001111","\u0130":1,"\u212aey":2}}`,
	`{"type":"identify","userId":"u","traits":{"\u212a":"x","phone":"139 0000 1111"}}`,
	`{"type":"identify","userId":"u","traits":{"emaIl":"a@b.cn","e":[{"x":true},false,-0.5e+3]}}`,
	`{"type":"track","event":"x","anonymousId":"a","context":"c"}`,
	`{"type":"track","event":"x","anonymousId":"a","context":null,"traits":null,"properties":null}`,
	`{"batch":[{"type":"track","messageId":"ok-1","userId":"u1","event":"like"},{"type":"track","messageId":"bad-1","userId":"u1"}],"sentAt":"2026-11-20T09:00:10Z","context":{"externalIds":[{"id":"o1","type":"open_id"}]}}`,
	`{"batch":[{"type":"page","originalTimestamp":"2026-11-20T09:00:00Z","anonymousId":"a"}],"sentAt":"2026-11-20T09:00:10Z"}`,
	`{"batch":[]}`,
	`{"batch":null}`,
	`{"batch":[1,{"type":"track"}]}`,
	`{"BATCH":[{"type":"track","event":"x","userId":"u"}]}`,
	`{"batch":[{"type":"track","event":"x","userId":"u"}]} x`,
}

// decodeTrackSpec decodes body for endpoint typ as Collector.TrackSpec
// does, with the reference decoder (encoding/json) or the fast one, as p
// says.
func decodeTrackSpec(p *trackSpecParser, typ string, body []byte) []string {
	var msgs []json.RawMessage
	scanned := new(scannedBatch)
	sentAt, ctx := "", json.RawMessage(nil)
	if typ == "batch" {
		b, prob := batchWith(p, body)
		if prob != nil {
			return []string{describe(nil, prob)}
		}
		msgs, sentAt, ctx, typ, scanned = b.Batch, b.SentAt, b.Context, "", b
	} else {
		msgs = []json.RawMessage{body}
	}
	var out []string
	for k, raw := range msgs {
		out = append(out, describe(p.parseScanned(raw, scanned.message(k), typ, sentAt, ctx)))
	}
	return out
}

// batchWith decodes a batch body with the decoder p uses.
func batchWith(p *trackSpecParser, body []byte) (*scannedBatch, *Problem) {
	if p.fast {
		return decodeBatch(body)
	}
	b := new(scannedBatch)
	if err := json.Unmarshal(body, &b.trackSpecBatch); err != nil {
		return nil, jsonProblem(err)
	}
	return b, nil
}

// describe renders a parse result for comparison: a random message id
// and the (randomly encrypted) vault ciphertext are left out.
func describe(rec *Record, prob *Problem) string {
	if prob != nil {
		return fmt.Sprintf("problem %q %q %q", prob.Code, prob.Field, prob.Message)
	}
	e := *rec.Event
	if strings.HasPrefix(e.MessageID, "auto-") {
		e.MessageID = "auto-"
	}
	var vault []string
	for _, v := range rec.Vault {
		vault = append(vault, v.Hash+" "+v.Masked)
	}
	return fmt.Sprintf("record %s %+v props=%s traits=%s ctx=%s vault=%v", rec.Kind, e, e.Properties, e.Traits, e.Context, vault)
}

var scanTypes = []string{"batch", "", "track", "identify", "page", "screen", "group", "alias"}

func diffParsers(t testing.TB) (ref, fast *trackSpecParser) {
	prot := fuzzProtector(t)
	now := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	return &trackSpecParser{source: "fuzz", receivedAt: now, protector: prot},
		&trackSpecParser{source: "fuzz", receivedAt: now, protector: prot, fast: true}
}

// checkSame fails when the two decoders disagree on body for typ.
func checkSame(t testing.TB, ref, fast *trackSpecParser, typ string, body []byte) {
	want := decodeTrackSpec(ref, typ, body)
	got := decodeTrackSpec(fast, typ, bytes.Clone(body))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q to %q:\nfast      %v\nreference %v", body, typ, got, want)
	}
	for _, g := range got {
		if strings.Contains(g, slowPathMarker) {
			t.Fatalf("%q: the slow-path marker escaped: %s", body, g)
		}
	}
}

// FuzzTrackSpecDifferential: the fast decoder gives exactly the records and
// problems of the reference decoder (encoding/json) for any body, to any
// endpoint.
func FuzzTrackSpecDifferential(f *testing.F) {
	for _, s := range trackSpecSeeds {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	ref, fast := diffParsers(f)
	f.Fuzz(func(t *testing.T, body []byte, typ uint8) {
		checkSame(t, ref, fast, scanTypes[int(typ)%len(scanTypes)], body)
	})
}

// TestTrackSpecScanMatchesReference runs the differential check on the
// seeds (to each endpoint) and on every one-byte deletion, duplication
// and replacement by a character that matters to JSON (to one endpoint
// each, in turn).
func TestTrackSpecScanMatchesReference(t *testing.T) {
	ref, fast := diffParsers(t)
	for _, s := range trackSpecSeeds {
		b := []byte(s)
		variants := mutations(b)[1:]
		for _, typ := range scanTypes {
			checkSame(t, ref, fast, typ, b)
		}
		for i, v := range variants {
			checkSame(t, ref, fast, scanTypes[i%len(scanTypes)], v)
		}
	}
}

// mutations returns b and every one-byte deletion, duplication and
// replacement by a character that matters to JSON.
func mutations(b []byte) [][]byte {
	swaps := []byte(`"\{}[],: 0-eE.nA`)
	out := [][]byte{b}
	for i := range b {
		out = append(out, append(bytes.Clone(b[:i]), b[i+1:]...))
		out = append(out, append(bytes.Clone(b[:i+1]), b[i:]...))
		for _, c := range swaps {
			v := bytes.Clone(b)
			v[i] = c
			out = append(out, v)
		}
	}
	return out
}

// A batch decoded into a reset scannedBatch (as the pool hands them out)
// is what it is decoded into a new one: nothing of the batch before (its
// messages, sentAt, context) is left, whether the new body has fewer
// messages, other fields, or none of them.
func TestScannedBatchResetHoldsNothingOfTheLast(t *testing.T) {
	first := `{"sentAt":"2026-11-20T09:00:10Z","context":{"ip":"1.2.3.4"},"batch":[` +
		`{"type":"track","event":"search","userId":"u1","messageId":"m1","properties":{"keyword":"低GI大米"},"context":{"a":1}},` +
		`{"type":"identify","userId":123,"traits":{"phone":"13812345678"},"groupId":"g","previousId":"p"},` +
		`{"type":"page","anonymousId":"a","name":"首页","category":"c","timestamp":"2026-11-20T09:00:00Z"}]}`
	reused := new(scannedBatch)
	for _, body := range []string{
		`{"batch":[{"type":"track","event":"video_play"}]}`,
		`{"batch":[]}`,
		`{"sentAt":"2026-11-21T09:00:00Z"}`,
		`{"context":{"b":2},"batch":[{"type":"alias","userId":"u2","previousId":"a"},{"type":"screen","name":"s"}]}`,
	} {
		if !scanBatch([]byte(first), reused) {
			t.Fatal("first body not scanned")
		}
		reused.reset()
		fresh := new(scannedBatch)
		okReused, okFresh := scanBatch([]byte(body), reused), scanBatch([]byte(body), fresh)
		if okReused != okFresh {
			t.Fatalf("%s: scanned %v into a reset batch, %v into a new one", body, okReused, okFresh)
		}
		got, want := fmt.Sprintf("%+v %v", reused.trackSpecBatch, reused.scanned), fmt.Sprintf("%+v %v", fresh.trackSpecBatch, fresh.scanned)
		for k := range fresh.Batch {
			got += fmt.Sprintf(" %+v", reused.message(k))
			want += fmt.Sprintf(" %+v", fresh.message(k))
		}
		if got != want {
			t.Errorf("%s\nreset batch: %s\nnew batch:   %s", body, got, want)
		}
	}
}
