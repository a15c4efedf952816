package journeys

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/campaigns"
)

// TestReplenishmentJourneyTenThousand runs the journey end to end
// for 10,000 households against the fake WeCom: households coming due for
// rice enter, get a WeCom reminder, and wait up to 3 days for a rice order
// on any channel; the 4,000 who order mid-wait take the "ordered" branch
// and exit at once, the others get a staff coupon task at the timeout and
// exit. Each customer gets each message once, counted at the fake WeCom.
func TestReplenishmentJourneyTenThousand(t *testing.T) {
	const n = 10_000
	f := newFixture(t, n)
	fake := f.withWeCom(n)
	fake.SetDailyCap(5)
	f.camps.Channels.WeComDailyCap = 5
	var orders, lines [][]any
	for p := uint32(1); p <= n; p++ { // bought rice 22 and 2 days ago: due in 18 days
		for i, days := range []int{22, 2} {
			at, id := start.Add(-time.Duration(days)*24*time.Hour), fmt.Sprintf("h%d-%d", p, i)
			orders = append(orders, []any{"tmall", id, uint64(1), "completed", at, at, "59.00", "上海", p})
			lines = append(lines, []any{"tmall", id, uint16(1), uint64(1), "WC-5", "五常大米", "1", "59.00", "59.00", at, p})
		}
	}
	f.insert("orders", "channel, order_id, version, status, ordered_at, status_at, amount, city, person_id", orders)
	f.insert("order_lines", "channel, order_id, line_no, version, sku, category, quantity, unit_price, amount, ordered_at, person_id", lines)
	wecomSend := func(id, next, text string) Node {
		return Node{ID: id, Type: NodeSend, Next: next, Send: &Send{Channel: campaigns.ChannelWeCom, OfferID: f.offer.ID, Template: "您好，我是{{staff}}：" + text}}
	}
	j := f.launch(Definition{Name: "大米复购提醒", Entry: Entry{Type: EntryReplenishment, ReplenishKind: "rice", LeadDays: 3, Next: "remind"},
		Nodes: []Node{wecomSend("remind", "buy", "家里的米快吃完了吧"),
			{ID: "buy", Type: NodeWaitFor, WaitFor: &WaitFor{Order: &OrderFilter{Categories: []string{"五常大米", "低GI大米"}}, Timeout: "3d", Happened: "ordered", TimedOut: "coupon"}},
			wecomSend("coupon", "out", "送您一张满减券"), exit("ordered"), exit("out")},
		Settings: Settings{GoalOfferID: f.offer.ID, CapPerWeek: 5}})
	f.round()
	if got := f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ?", j.ID); got != 0 {
		t.Fatalf("%d entered 18 days before they are due", got)
	}
	f.clock.Advance(15*24*time.Hour + time.Hour) // due in 3 days: within the lead days
	began := time.Now()
	f.round()
	scheduled := time.Since(began)
	if got := f.runs(j, stateWaiting, "buy"); got != n {
		t.Fatalf("%d waiting for an order, want %d", got, n)
	}
	f.clock.Advance(30 * time.Hour)
	var touched []uint32
	orders, lines = nil, nil
	for p := uint32(1); p <= n; p++ {
		if p%5 < 2 { // 4,000 order mid-wait, on another channel
			at, id := f.clock.Now(), fmt.Sprintf("r%d", p)
			orders = append(orders, []any{"douyin_shop", id, uint64(1), "paid", at, at, "59.00", "上海", p})
			lines = append(lines, []any{"douyin_shop", id, uint16(1), uint64(1), "WC-5", "五常大米", "1", "59.00", "59.00", at, p})
			touched = append(touched, p)
		}
	}
	f.insert("orders", "channel, order_id, version, status, ordered_at, status_at, amount, city, person_id", orders)
	f.insert("order_lines", "channel, order_id, line_no, version, sku, category, quantity, unit_price, amount, ordered_at, person_id", lines)
	f.svc.Touched(touched, []string{"orders", "order_lines"})
	began = time.Now()
	f.round()
	woke := time.Since(began)
	if got := f.runs(j, stateDone, "ordered"); got != 4000 {
		t.Fatalf("%d took the ordered branch and exited, want 4000", got)
	}
	f.advance(42 * time.Hour)
	if got := f.runs(j, stateDone, "out"); got != 6000 {
		t.Fatalf("%d got the coupon task and exited, want 6000", got)
	}
	remind, coupon := map[string]int{}, map[string]int{}
	for _, tk := range fake.Tasks() {
		m := remind
		if strings.Contains(tk.Text, "满减券") {
			m = coupon
		}
		for _, c := range tk.ExternalUserIDs {
			m[c]++
		}
	}
	for p := uint32(1); p <= n; p++ {
		wantCoupon := 1
		if p%5 < 2 {
			wantCoupon = 0
		}
		if remind[extID(p)] != 1 || coupon[extID(p)] != wantCoupon {
			t.Fatalf("customer %d: %d reminders and %d coupon tasks, want 1 and %d", p, remind[extID(p)], coupon[extID(p)], wantCoupon)
		}
	}
	t.Logf("10,000 entered, reminded and set waiting in %v; 4,000 orders took their runs out in %v", scheduled.Round(time.Millisecond), woke.Round(time.Millisecond))
}
