package gen_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/ingest/spool"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/schema"
)

var (
	cst       = schema.Beijing
	testEnd   = time.Date(2026, 11, 25, 0, 0, 0, 0, cst)
	testStart = testEnd.AddDate(0, 0, -365)
)

func testConfig(seed uint64, households int) gen.Config {
	return gen.Config{Seed: seed, Households: households, Start: testStart, End: testEnd}
}

// collect returns every item of cfg with its Data copied.
func collect(t testing.TB, cfg gen.Config) []gen.Item {
	t.Helper()
	var items []gen.Item
	err := gen.New(cfg).Each(func(it gen.Item) error {
		it.Data = bytes.Clone(it.Data)
		if it.Contact != nil {
			c := *it.Contact
			it.Contact = &c
		}
		items = append(items, it)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func streamHash(t *testing.T, g *gen.Generator, lo, hi int) [32]byte {
	t.Helper()
	h := sha256.New()
	err := g.Range(lo, hi, func(it gen.Item) error {
		fmt.Fprintf(h, "%d|%d|%d|%s|", it.Kind, it.Household, it.Time.UnixMilli(), it.Source)
		h.Write(it.Data)
		h.Write([]byte{'\n'})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

func TestSameConfigGivesTheSameBytesAndAnotherSeedOthers(t *testing.T) {
	a := streamHash(t, gen.New(testConfig(7, 2000)), 0, 2000)
	b := streamHash(t, gen.New(testConfig(7, 2000)), 0, 2000)
	if a != b {
		t.Fatal("two runs of one Config differ")
	}
	if c := streamHash(t, gen.New(testConfig(8, 2000)), 0, 2000); c == a {
		t.Fatal("seeds 7 and 8 gave the same stream")
	}
}

func TestRangesConcatenateToTheWholeStream(t *testing.T) {
	g := gen.New(testConfig(7, 300))
	whole := sha256.New()
	parts := sha256.New()
	g.Each(func(it gen.Item) error { whole.Write(it.Data); return nil })
	for _, r := range [][2]int{{0, 100}, {100, 101}, {101, 300}} {
		g.Range(r[0], r[1], func(it gen.Item) error { parts.Write(it.Data); return nil })
	}
	if !bytes.Equal(whole.Sum(nil), parts.Sum(nil)) {
		t.Fatal("Range pieces differ from Each")
	}
}

func TestEachStopsAtTheCallbacksError(t *testing.T) {
	stop := fmt.Errorf("stop")
	n := 0
	err := gen.New(testConfig(1, 100)).Each(func(gen.Item) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if err != stop || n != 10 {
		t.Fatalf("Each returned %v after %d items", err, n)
	}
}

// segment is the part of a Segment message the tests read.
type segment struct {
	Type        string            `json:"type"`
	MessageID   string            `json:"messageId"`
	UserID      string            `json:"userId"`
	AnonymousID string            `json:"anonymousId"`
	Event       string            `json:"event"`
	Name        string            `json:"name"`
	Properties  map[string]any    `json:"properties"`
	Traits      map[string]string `json:"traits"`
	Context     struct {
		ExternalIDs []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"externalIds"`
	} `json:"context"`
	Timestamp string `json:"timestamp"`
}

type orderWire struct {
	Channel   string            `json:"channel"`
	OrderID   string            `json:"order_id"`
	Version   int               `json:"version"`
	Status    string            `json:"status"`
	OrderedAt string            `json:"ordered_at"`
	StatusAt  string            `json:"status_at"`
	Amount    string            `json:"amount"`
	Currency  string            `json:"currency"`
	Province  string            `json:"province"`
	City      string            `json:"city"`
	StoreID   string            `json:"store_id"`
	LeaderID  string            `json:"leader_id"`
	Buyer     map[string]string `json:"buyer"`
	Lines     []struct {
		SKU         string `json:"sku"`
		ProductName string `json:"product_name"`
		Category    string `json:"category"`
		Quantity    int    `json:"quantity"`
		UnitPrice   string `json:"unit_price"`
	} `json:"lines"`
}

func decodeStrict(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
}

func within(t *testing.T, what, s string, layout string) time.Time {
	t.Helper()
	ts, err := time.Parse(layout, s)
	if err != nil {
		t.Fatalf("%s %q: %v", what, s, err)
	}
	if ts.Before(testStart) || !ts.Before(testEnd) {
		t.Fatalf("%s %s is outside the period", what, s)
	}
	return ts
}

var douyinProps = map[string][]string{
	"video_play":     {"video_id", "topic", "author_id", "duration_s"},
	"video_complete": {"video_id", "topic", "completion_ratio", "duration_s"},
	"like":           {"video_id", "topic"},
	"comment":        {"video_id", "topic", "text"},
	"search":         {"keyword", "results"},
	"live_enter":     {"room_id", "topic", "stay_s"},
}

func validPhone(t *testing.T, p string) {
	t.Helper()
	if len(p) != 11 || p[0] != '1' || p[1] < '3' || p[1] > '9' {
		t.Fatalf("phone %q is not 1[3-9] and nine digits", p)
	}
	if _, err := identity.NormalizePhone(p); err != nil {
		t.Fatal(err)
	}
}

func TestItemsFollowTheIngestRules(t *testing.T) {
	items := collect(t, testConfig(3, 2000))
	msgIDs := map[string]bool{}
	chatIDs := map[string]bool{}
	versions := map[string]bool{}
	lastTime := map[int]time.Time{}
	for _, it := range items {
		if it.Time.Before(testStart) || !it.Time.Before(testEnd) {
			t.Fatalf("item time %v outside the period", it.Time)
		}
		if it.Time.Before(lastTime[it.Household]) {
			t.Fatalf("household %d goes back in time at %s", it.Household, it.Data)
		}
		lastTime[it.Household] = it.Time
		switch it.Kind {
		case gen.KindEvent:
			var s segment
			decodeStrict(t, it.Data, &s)
			if msgIDs[s.MessageID] || s.MessageID == "" {
				t.Fatalf("messageId %q missing or repeated", s.MessageID)
			}
			msgIDs[s.MessageID] = true
			ts := within(t, "timestamp", s.Timestamp, time.RFC3339Nano)
			if !ts.Equal(it.Time) {
				t.Fatalf("Item.Time %v, timestamp %v", it.Time, ts)
			}
			if len(s.Context.ExternalIDs) == 0 {
				t.Fatalf("event without externalIds: %s", it.Data)
			}
			for _, x := range s.Context.ExternalIDs {
				if !identity.KnownType(x.Type) || identity.Blocked(x.ID) {
					t.Fatalf("bad external id %v", x)
				}
			}
			switch s.Type {
			case "identify":
				validPhone(t, s.Traits["phone"])
				if s.Traits["name"] == "" || len(s.Traits) != 2 {
					t.Fatalf("identify traits %v", s.Traits)
				}
			case "track":
				want, ok := douyinProps[s.Event]
				if !ok || it.Source != "douyin" {
					t.Fatalf("unexpected track %q from %s", s.Event, it.Source)
				}
				if len(s.Properties) != len(want) {
					t.Fatalf("%s properties %v, want %v", s.Event, s.Properties, want)
				}
				for _, k := range want {
					if _, ok := s.Properties[k]; !ok {
						t.Fatalf("%s lacks %s: %s", s.Event, k, it.Data)
					}
				}
				if r, ok := s.Properties["completion_ratio"].(float64); ok && (r <= 0 || r > 1) {
					t.Fatalf("completion_ratio %v", r)
				}
			case "page":
				if s.Name == "" || it.Source != "mini_program" {
					t.Fatalf("page %s", it.Data)
				}
			default:
				t.Fatalf("type %q", s.Type)
			}
			if s.Traits != nil && s.Type != "identify" {
				t.Fatalf("traits outside identify: %s", it.Data)
			}
		case gen.KindOrder:
			var o orderWire
			decodeStrict(t, it.Data, &o)
			if !ingest.Channels[o.Channel] || !ingest.OrderStatuses[o.Status] || o.Channel != it.Source {
				t.Fatalf("channel %q status %q", o.Channel, o.Status)
			}
			key := fmt.Sprintf("%s/%s/%d", o.Channel, o.OrderID, o.Version)
			if versions[key] || o.OrderID == "" || o.Version < 1 {
				t.Fatalf("order version %s missing or repeated", key)
			}
			versions[key] = true
			ordered := within(t, "ordered_at", o.OrderedAt, time.RFC3339)
			status := within(t, "status_at", o.StatusAt, time.RFC3339)
			if status.Before(ordered) {
				t.Fatalf("status_at before ordered_at: %s", it.Data)
			}
			if (o.Channel == "pos") != (o.StoreID != "") || (o.Channel == "group_buy") != (o.LeaderID != "") {
				t.Fatalf("store_id/leader_id: %s", it.Data)
			}
			if len(o.Buyer) == 0 || o.Currency != "CNY" || o.City == "" || o.Province == "" {
				t.Fatalf("buyer, currency or place missing: %s", it.Data)
			}
			if p, ok := o.Buyer["phone"]; ok {
				validPhone(t, p)
			}
			if o.Version == 1 {
				var sum int64
				for _, l := range o.Lines {
					if l.SKU == "" || l.Category == "" || l.Quantity < 1 {
						t.Fatalf("line %+v", l)
					}
					sum += int64(l.Quantity) * fen(t, l.UnitPrice)
				}
				if len(o.Lines) == 0 || sum != fen(t, o.Amount) {
					t.Fatalf("amount %s is not the sum of the lines: %s", o.Amount, it.Data)
				}
			} else if len(o.Lines) != 0 {
				t.Fatalf("status change with lines: %s", it.Data)
			}
		case gen.KindChat:
			m, err := wecom.ParseArchiveLine(it.Data)
			if err != nil {
				t.Fatalf("%v: %s", err, it.Data)
			}
			if chatIDs[m.MsgID] {
				t.Fatalf("msgid %s repeated", m.MsgID)
			}
			chatIDs[m.MsgID] = true
			if !m.MsgTime.Equal(it.Time) {
				t.Fatalf("msgtime %v, item %v", m.MsgTime, it.Time)
			}
			if m.Action == wecom.ActionRecall && !chatIDs[m.PreMsgID] {
				t.Fatalf("recall of a message not sent before: %s", it.Data)
			}
		case gen.KindContact:
			ev, err := wecom.ParseEvent(it.Data)
			if err != nil {
				t.Fatalf("%v: %s", err, it.Data)
			}
			c := it.Contact
			if ev.ChangeType != c.ChangeType || ev.UserID != c.UserID || ev.ExternalUserID != c.ExternalUserID ||
				ev.State != c.State || !ev.CreateTime.Equal(c.CreateTime) || !strings.HasPrefix(c.ExternalUserID, "wm") {
				t.Fatalf("callback %+v does not match %+v", ev, c)
			}
			if c.ChangeType == wecom.ChangeAddExternalContact && (c.State == "" || c.UnionID == "" || c.Name == "") {
				t.Fatalf("add without state, unionid or name: %+v", c)
			}
		default:
			t.Fatalf("kind %v", it.Kind)
		}
	}
}

func fen(t *testing.T, yuan string) int64 {
	t.Helper()
	var a, b int64
	if _, err := fmt.Sscanf(yuan, "%d.%02d", &a, &b); err != nil || len(yuan) < 4 || yuan[len(yuan)-3] != '.' {
		t.Fatalf("amount %q", yuan)
	}
	return a*100 + b
}

// TestTheRealCollectorAcceptsEveryItem sends a data set through the
// platform's own ingest (Segment batches, orders, encrypted WeCom
// callbacks, the chat-archive import) into a spool: nothing is refused
// and nothing is a duplicate.
func TestTheRealCollectorAcceptsEveryItem(t *testing.T) {
	opts := spool.DefaultOptions()
	opts.Dir = t.TempDir()
	sp, err := spool.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	prot, err := identity.NewProtector(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	now := testEnd.Add(time.Hour)
	col := ingest.NewCollector(ingest.Options{Spool: sp, Protector: prot, Now: func() time.Time { return now }})
	cfg := testConfig(5, 600)
	crypto, err := wecom.NewCrypto("token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", gen.New(cfg).Config().CorpID)
	if err != nil {
		t.Fatal(err)
	}
	wc := &ingest.WeCom{Crypto: crypto, CorpID: gen.New(cfg).Config().CorpID}
	ctx := context.Background()

	var sent, accepted int
	check := func(what string, res ingest.Result, err error, n int) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(res.Rejected) > 0 || res.Duplicates > 0 || res.Accepted != n {
			t.Fatalf("%s: %d of %d accepted, %d duplicates, rejected %+v", what, res.Accepted, n, res.Duplicates, res.Rejected)
		}
		sent += n
		accepted += res.Accepted
	}
	batches := map[string][][]byte{} // by source: events go under their own write key
	var orders [][]byte
	var chats bytes.Buffer
	chatLines := 0
	flush := func(source string, final bool) {
		b := batches[source]
		if len(b) == 0 || (!final && len(b) < 500) {
			return
		}
		body := append(append([]byte(`{"batch":[`), bytes.Join(b, []byte(","))...), "]}"...)
		res, err := col.TrackSpec(ctx, source, "batch", body)
		check("batch from "+source, res, err, len(b))
		batches[source] = b[:0]
	}
	flushOrders := func(final bool) {
		if len(orders) == 0 || (!final && len(orders) < 200) {
			return
		}
		body := append(append([]byte(`{"orders":[`), bytes.Join(orders, []byte(","))...), "]}"...)
		res, err := col.Orders(ctx, "orders", body)
		check("orders", res, err, len(orders))
		orders = orders[:0]
	}
	err = gen.New(cfg).Each(func(it gen.Item) error {
		data := bytes.Clone(it.Data)
		switch it.Kind {
		case gen.KindEvent:
			batches[it.Source] = append(batches[it.Source], data)
			flush(it.Source, false)
		case gen.KindOrder:
			orders = append(orders, data)
			flushOrders(false)
		case gen.KindContact:
			// Delivered now, each with its own nonce, as WeCom does.
			ts, nonce := fmt.Sprint(now.Unix()), fmt.Sprint("n", sent)
			body, sig, err := crypto.EncryptedXML(data, "1000005", ts, nonce)
			if err != nil {
				return err
			}
			res, err := col.WeComCallback(ctx, wc, sig, ts, nonce, body)
			check("callback", res, err, 1)
		case gen.KindChat:
			chats.Write(data)
			chats.WriteByte('\n')
			chatLines++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for s := range batches {
		flush(s, true)
	}
	flushOrders(true)
	res, err := col.ImportWeComArchive(ctx, "wecom", &chats)
	check("chat archive", res.Result, err, chatLines)
	if accepted < 10000 {
		t.Fatalf("only %d records sent", accepted)
	}
	t.Logf("%d records accepted", accepted)
}

// idsOf returns the identifiers an item carries, as the platform reads
// them (placeholders left out), with raw values.
func idsOf(t *testing.T, it gen.Item) []identity.Identifier {
	t.Helper()
	var out []identity.Identifier
	add := func(typ, v string) {
		if v != "" && !identity.Blocked(v) {
			out = append(out, identity.Identifier{Type: typ, Value: v})
		}
	}
	switch it.Kind {
	case gen.KindEvent:
		var s segment
		decodeStrict(t, it.Data, &s)
		add(identity.UserID, s.UserID)
		add(identity.AnonymousID, s.AnonymousID)
		add(identity.Phone, s.Traits["phone"])
		for _, x := range s.Context.ExternalIDs {
			add(x.Type, x.ID)
		}
	case gen.KindOrder:
		var o orderWire
		decodeStrict(t, it.Data, &o)
		for k, v := range o.Buyer {
			add(k, v) // buyer keys are the identifier types
		}
	case gen.KindContact:
		add(identity.WeComExternalUserID, it.Contact.ExternalUserID)
		add(identity.UnionID, it.Contact.UnionID)
	case gen.KindChat:
		m, err := wecom.ParseArchiveLine(it.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range append([]string{m.From}, m.ToList...) {
			if strings.HasPrefix(p, "wm") {
				add(identity.WeComExternalUserID, p)
			}
		}
	}
	return out
}

func TestTruthHoldsEveryIdentifierOfTheStreamAndOnlyThose(t *testing.T) {
	cfg := testConfig(11, 3000)
	g := gen.New(cfg)
	owners := map[identity.Identifier][]string{}
	shared := map[identity.Identifier]bool{}
	households := map[int]*gen.Household{}
	err := g.Households(func(h *gen.Household) error {
		households[h.Index] = h
		for _, p := range h.Persons {
			if len(p.IDs) == 0 {
				t.Fatalf("person %s has no identifier", p.Key)
			}
			if p.Household != h.Index || !strings.HasPrefix(p.Key, fmt.Sprintf("h%07d.p", h.Index)) {
				t.Fatalf("person %s in household %d", p.Key, h.Index)
			}
			for _, id := range p.IDs {
				owners[id] = append(owners[id], p.Key)
				if id.Type == identity.Phone {
					validPhone(t, id.Value)
				}
			}
			for _, id := range p.Shared {
				shared[id] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, o := range owners {
		if (len(o) > 1) != shared[id] || len(o) > 2 {
			t.Fatalf("%v is listed under %v, shared flag %v", id, o, shared[id])
		}
	}

	seen := map[identity.Identifier]bool{}
	placeholders, douyinEvents := 0, 0
	g.Each(func(it gen.Item) error {
		ids := idsOf(t, it)
		if len(ids) == 0 {
			t.Fatalf("item without identifiers: %s", it.Data)
		}
		// All identifiers of one item belong to one person.
		var common []string
		for i, id := range ids {
			o, ok := owners[id]
			if !ok {
				t.Fatalf("%v of %s is in no truth person", id, it.Data)
			}
			if i == 0 {
				common = slices.Clone(o)
			} else {
				common = slices.DeleteFunc(common, func(k string) bool { return !slices.Contains(o, k) })
			}
			seen[id] = true
		}
		if len(common) == 0 {
			t.Fatalf("identifiers of %s belong to different persons", it.Data)
		}
		if it.Kind == gen.KindEvent && it.Source == "douyin" {
			douyinEvents++
			var s segment
			decodeStrict(t, it.Data, &s)
			if identity.Blocked(s.AnonymousID) {
				placeholders++
			}
		}
		return nil
	})
	for id := range owners {
		if !seen[id] {
			t.Fatalf("truth lists %v, which the stream never carries", id)
		}
	}

	// Sharing happens at the configured rates (±50%) among households of
	// two or more.
	c := g.Config()
	var eligible, phones, devices int
	for _, h := range households {
		if h.Size < 2 {
			continue
		}
		eligible++
		var phone, device bool
		for _, p := range h.Persons {
			for _, id := range p.Shared {
				phone = phone || id.Type == identity.Phone
				device = device || id.Type == identity.AnonymousID
			}
		}
		if phone != h.SharedPhone || device != h.SharedDevice {
			t.Fatalf("household %d: shared phone %v device %v in truth, flags %v %v", h.Index, phone, device, h.SharedPhone, h.SharedDevice)
		}
		phones += int(b2i(phone))
		devices += int(b2i(device))
	}
	rate := func(what string, got, want float64) {
		t.Helper()
		t.Logf("%s: %.4f (configured %.4f)", what, got, want)
		if got < want*0.5 || got > want*1.5 {
			t.Errorf("%s rate %.4f, configured %.4f", what, got, want)
		}
	}
	rate("shared phones", float64(phones)/float64(eligible), c.SharedPhoneRate)
	rate("shared devices", float64(devices)/float64(eligible), c.SharedDeviceRate)
	rate("placeholder anonymousIds", float64(placeholders)/float64(douyinEvents), c.NoiseRate)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestPhonesAreUniquePerOwnerOverAMillionPersons(t *testing.T) {
	if testing.Short() {
		t.Skip("plans 400,000 households")
	}
	owners := map[string]string{}
	err := gen.New(testConfig(2, 400_000)).Truth(func(p *gen.Person) error {
		for _, id := range p.IDs {
			if id.Type != identity.Phone || slices.Contains(p.Shared, id) {
				continue
			}
			if o, dup := owners[id.Value]; dup {
				return fmt.Errorf("phone %s of %s and %s", id.Value, o, p.Key)
			}
			owners[id.Value] = p.Key
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSeasonalPeaksShowInOrders(t *testing.T) {
	items := collect(t, testConfig(4, 4000))
	var total int
	count := map[string]int{}
	windows := map[string][2]time.Time{
		"双11 week (Nov 5-11)":    {time.Date(2026, 11, 5, 0, 0, 0, 0, cst), time.Date(2026, 11, 12, 0, 0, 0, 0, cst)},
		"618 week (Jun 12-18)":   {time.Date(2026, 6, 12, 0, 0, 0, 0, cst), time.Date(2026, 6, 19, 0, 0, 0, 0, cst)},
		"年货 week (Feb 3-9)":      {time.Date(2026, 2, 3, 0, 0, 0, 0, cst), time.Date(2026, 2, 10, 0, 0, 0, 0, cst)},
		"quiet week (Mar 16-22)": {time.Date(2026, 3, 16, 0, 0, 0, 0, cst), time.Date(2026, 3, 23, 0, 0, 0, 0, cst)},
	}
	for _, it := range items {
		if it.Kind != gen.KindOrder {
			continue
		}
		var o orderWire
		decodeStrict(t, it.Data, &o)
		if o.Version != 1 {
			continue
		}
		total++
		at, _ := time.Parse(time.RFC3339, o.OrderedAt)
		for name, w := range windows {
			if !at.Before(w[0]) && at.Before(w[1]) {
				count[name]++
			}
		}
	}
	avg := float64(total) / 365 * 7
	t.Logf("average week %.0f orders; %v", avg, count)
	for name, min := range map[string]float64{"双11 week (Nov 5-11)": 2, "618 week (Jun 12-18)": 1.5, "年货 week (Feb 3-9)": 1.2} {
		if float64(count[name]) < min*avg {
			t.Errorf("%s has %d orders, less than %.1f× the average week", name, count[name], min)
		}
	}
	if q := float64(count["quiet week (Mar 16-22)"]); q > 1.2*avg {
		t.Errorf("a quiet week has %.0f orders, average %.0f", q, avg)
	}
}

// TestBloodSugarHouseholdsWatchAskAndBuyLowGI: 控糖 households watch 控糖
// videos to the end, ask about 血糖 in chats and buy low-GI rice far more
// than others.
func TestBloodSugarHouseholdsWatchAskAndBuyLowGI(t *testing.T) {
	cfg := testConfig(6, 4000)
	g := gen.New(cfg)
	sugar := map[int]bool{}
	var sugarN, otherN, sugarLowGI, otherLowGI int
	g.Households(func(h *gen.Household) error {
		sugar[h.Index] = h.BloodSugar
		if h.BloodSugar != slices.Contains(h.Interests, "控糖") || (h.BloodSugar && !h.LowGI) {
			t.Fatalf("interests %v, flags %v %v", h.Interests, h.BloodSugar, h.LowGI)
		}
		if h.BloodSugar {
			sugarN++
			sugarLowGI += int(b2i(len(h.LowGIRice) > 0))
		} else {
			otherN++
			otherLowGI += int(b2i(len(h.LowGIRice) > 0))
		}
		return nil
	})
	if r, want := float64(sugarN)/float64(sugarN+otherN), g.Config().BloodSugarRate; math.Abs(r-want) > 0.03 {
		t.Errorf("%.3f of households control blood sugar, configured %.2f", r, g.Config().BloodSugarRate)
	}
	type tally struct{ completes, sugarFull, chats, sugarChats int }
	var s, o tally
	g.Each(func(it gen.Item) error {
		tl := &o
		if sugar[it.Household] {
			tl = &s
		}
		switch {
		case it.Kind == gen.KindEvent && bytes.Contains(it.Data, []byte(`"event":"video_complete"`)):
			var m segment
			decodeStrict(t, it.Data, &m)
			tl.completes++
			if m.Properties["topic"] == "控糖" && m.Properties["completion_ratio"].(float64) >= 0.95 {
				tl.sugarFull++
			}
		case it.Kind == gen.KindChat && bytes.Contains(it.Data, []byte(`"from":"wm`)):
			tl.chats++
			if bytes.Contains(it.Data, []byte("血糖")) {
				tl.sugarChats++
			}
		}
		return nil
	})
	share := func(a, b int) float64 { return float64(a) / float64(max(b, 1)) }
	t.Logf("控糖 full views per completion: %.3f vs %.3f; 血糖 in customer chats: %.3f vs %.3f; bought low-GI rice: %d/%d vs %d/%d",
		share(s.sugarFull, s.completes), share(o.sugarFull, o.completes), share(s.sugarChats, s.chats), share(o.sugarChats, o.chats),
		sugarLowGI, sugarN, otherLowGI, otherN)
	if share(s.sugarFull, s.completes) < 5*share(o.sugarFull, o.completes) {
		t.Error("控糖 households do not watch 控糖 videos to the end markedly more")
	}
	if share(s.sugarChats, s.chats) < 5*share(o.sugarChats, o.chats) {
		t.Error("控糖 households do not ask about 血糖 markedly more")
	}
	if share(sugarLowGI, sugarN) < 0.15 || share(sugarLowGI, sugarN) < 10*share(otherLowGI, otherN) {
		t.Error("too few 控糖 households buy low-GI rice, or too many others")
	}
}

func TestHouseholdsVaryAroundTheConsumptionPriors(t *testing.T) {
	var oil, rice []float64
	tiers := map[int]int{}
	sizes := map[int]int{}
	gen.New(testConfig(9, 3000)).Households(func(h *gen.Household) error {
		tiers[h.Tier]++
		sizes[h.Size]++
		if h.Size == 3 {
			oil = append(oil, h.OilDays)
			rice = append(rice, h.RiceDays)
		}
		if h.Tier == 1 != slices.Contains([]string{"北京", "上海", "广州", "深圳"}, h.City) {
			t.Fatalf("%s has tier %d", h.City, h.Tier)
		}
		return nil
	})
	slices.Sort(oil)
	slices.Sort(rice)
	medOil, medRice := oil[len(oil)/2], rice[len(rice)/2]
	t.Logf("3-person households: 5 L oil lasts %.0f days, 5 kg rice %.0f days (median); tiers %v; sizes %v", medOil, medRice, tiers, sizes)
	if medOil < 42 || medOil > 56 || medRice < 14 || medRice > 21 {
		t.Errorf("medians %.0f and %.0f days are off the priors of 6-8 and 2-3 weeks", medOil, medRice)
	}
	if oil[len(oil)/10] > 0.8*medOil || oil[len(oil)*9/10] < 1.2*medOil {
		t.Error("households do not vary")
	}
	if len(sizes) != 5 || sizes[1] == 0 || sizes[5] == 0 || tiers[1] < 300 || tiers[4] == 0 {
		t.Errorf("sizes %v, tiers %v", sizes, tiers)
	}
}

func TestScoreRewardsTheTruthAndPunishesMerging(t *testing.T) {
	g := gen.New(testConfig(12, 1500))
	owner := map[identity.Identifier]string{}
	g.Truth(func(p *gen.Person) error {
		for _, id := range p.IDs {
			owner[id] = p.Key
		}
		return nil
	})
	perfect, err := g.Score(func(id identity.Identifier) (string, bool) { c, ok := owner[id]; return c, ok })
	if err != nil || perfect.Precision != 1 || perfect.Recall != 1 || perfect.TruePairs == 0 {
		t.Fatalf("the truth scores %+v, %v", perfect, err)
	}
	singletons, _ := g.Score(func(id identity.Identifier) (string, bool) { return id.Type + ":" + id.Value, true })
	if singletons.Precision != 1 || singletons.Recall != 0 {
		t.Fatalf("singletons score %+v", singletons)
	}
	// Merging every household into one person is wrong for every pair of
	// persons in it.
	byHousehold, _ := g.Score(func(id identity.Identifier) (string, bool) { return owner[id][:8], true })
	if byHousehold.Recall != 1 || byHousehold.Precision >= 0.9 {
		t.Fatalf("households as persons score %+v", byHousehold)
	}
}

// TestItemMix logs what a data set is made of (run with -v).
func TestItemMix(t *testing.T) {
	counts := map[string]int{}
	n := 0
	gen.New(testConfig(1, 5000)).Each(func(it gen.Item) error {
		n++
		k := it.Kind.String() + "/" + it.Source
		counts[k]++
		return nil
	})
	per := float64(n) / 5000
	t.Logf("%d items, %.1f per household: %v", n, per, counts)
	if per < 30 || per > 50 {
		t.Errorf("%.1f items per household; 50,000 households should give about 2 million", per)
	}
	if counts["event/douyin"] < n/2 {
		t.Error("events do not dominate")
	}
}

func BenchmarkGenerate(b *testing.B) {
	g := gen.New(testConfig(1, 1_000_000))
	items, bytesOut := 0, 0
	b.ResetTimer()
	h := 0
	for b.Loop() {
		g.Range(h, h+100, func(it gen.Item) error {
			items++
			bytesOut += len(it.Data)
			return nil
		})
		h = (h + 100) % 1_000_000
	}
	b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
	b.ReportMetric(float64(bytesOut)/float64(max(items, 1)), "B/item")
}

// BenchmarkGenerateParallel generates disjoint household ranges on every
// CPU, as a loader of 10 million persons would.
func BenchmarkGenerateParallel(b *testing.B) {
	g := gen.New(testConfig(1, 1_000_000))
	var items, next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			h := int(next.Add(100)-100) % 1_000_000
			g.Range(h, h+100, func(gen.Item) error { n++; return nil })
		}
		items.Add(int64(n))
	})
	b.ReportMetric(float64(items.Load())/b.Elapsed().Seconds(), "items/s")
}
