// Package campaigns sends offers to segments through channels with a
// holdout, consent, caps and quiet hours, keeps an exactly-once send log,
// and measures conversion against the holdout.
package campaigns

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/segments"
)

// Groups of a plan.
const (
	GroupTreatment = "treatment"
	GroupHoldout   = "holdout"
	GroupExcluded  = "excluded"
)

// Reasons a person is excluded (or held out) from a send.
const (
	ReasonGlobalControl   = "global_control"
	ReasonHoldout         = "holdout"
	ReasonOptedOut        = "opted_out"
	ReasonSuppressed      = "suppressed"
	ReasonSensitive       = "no_sensitive_consent"
	ReasonCap             = "cap_reached"
	ReasonQuietHours      = "quiet_hours"
	ReasonNoAddress       = "no_channel_address"
	ReasonSendLimit       = "send_limit"
	ReasonChannelCapLimit = "channel_cap_reached" // WeCom's own mass-message cap per customer
	ReasonReplanned       = "replanned"           // planned by a launch that failed, not by the one that succeeded
)

// Address is where a person is reached on a channel: for WeCom one-to-one,
// the customer's external user id and the staff member who owns them.
type Address struct {
	To     string
	Sender string
}

// Audience is what planning needs to know about the people in scope. The
// bitmaps are frozen snapshots (never modified by the planner).
type Audience struct {
	Members   *roaring.Bitmap // the segment's members
	OptedOut  *roaring.Bitmap // opted out of this channel (or of all)
	Suppress  *roaring.Bitmap // erased or otherwise never to be targeted
	Consented *roaring.Bitmap // separate consent for sensitive targeting
	// AtCap holds persons who already received as many campaign messages
	// in the cap's period as allowed.
	AtCap *roaring.Bitmap
	// AtChannelCap holds persons the channel itself will not reach again
	// today: WeCom's cap on mass messages a customer receives.
	AtChannelCap *roaring.Bitmap
	// Addresses gives each reachable person's channel address; persons
	// without one cannot be sent to.
	Addresses func(person uint32) (Address, bool)
}

// PlanOptions are a campaign's planning settings.
type PlanOptions struct {
	CampaignID string
	// HoldoutPercent of eligible persons form the control group
	// (deterministic per campaign and person).
	HoldoutPercent float64
	// GlobalControlPercent of all persons never receive campaigns.
	GlobalControlPercent float64
	// Sensitive is set when the audience reads a sensitive (health) tag
	// or topic: only persons with recorded separate consent are sent to.
	Sensitive bool
	// QuietStart and QuietEnd are the quiet hours in Asia/Shanghai (e.g.
	// 21 and 8: no sends from 21:00 to 08:00); equal values mean none.
	QuietStart, QuietEnd int
	// SendLimit caps the treatment group (0: no limit; negative: none
	// left).
	SendLimit int
	Now       time.Time
}

// Entry is one person's line of a plan.
type Entry struct {
	Person uint32
	Group  string
	Reason string
	// Arm is the random arm (treatment or holdout) of a person who could
	// be targeted at all, also when a cap, quiet hours or the send limit
	// then excluded them; empty for persons never targeted.
	Arm     string
	Address Address
}

// Plan is a campaign's decision for every member of its audience.
type Plan struct {
	Entries  []Entry
	Counts   map[string]int // by group
	Excluded map[string]int // by reason, except holdout persons'
	// HoldoutExcluded counts, by reason, the holdout persons a cap, quiet
	// hours or the send limit excluded: they would not have been sent to
	// had they been drawn into treatment, so they leave the holdout too.
	HoldoutExcluded map[string]int
	// Sensitive says why the audience needed separate consent (nil: it
	// did not); set by the service, not by MakePlan.
	Sensitive *segments.Finding
}

// treatment returns the persons the plan sends to.
func (p Plan) treatment() *roaring.Bitmap {
	bm := roaring.New()
	for _, e := range p.Entries {
		if e.Group == GroupTreatment {
			bm.Add(e.Person)
		}
	}
	return bm
}

// inQuietHours tells whether t falls in [start, end) hours in Shanghai,
// wrapping past midnight.
func inQuietHours(t time.Time, start, end int) bool {
	if start == end {
		return false
	}
	h := t.In(schema.Beijing).Hour()
	if start < end {
		return h >= start && h < end
	}
	return h >= start || h < end
}

// bucket maps (salt, person) to 0..9999, the same on every machine. The
// FNV-1a sum is mixed (mix64) first: unmixed, the buckets of one person
// under two campaigns' salts were correlated (the share of one campaign's
// holdout that fell in another's 20% holdout ranged 13-26% instead of
// 20 +/- 1), so holdouts overlapped by structure, not by chance.
func bucket(salt string, person uint32) int {
	h := fnv.New64a()
	h.Write([]byte(salt))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], person)
	h.Write(b[:])
	return int(mix64(h.Sum64()) % 10000)
}

// mix64 is splitmix64's finalizer: every output bit depends on every
// input bit (FNV-1a's last bytes barely reach its high bits, and its low
// bits never see the high bits of the state).
func mix64(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// InGlobalControl tells whether a person belongs to the global control
// group of the given size.
func InGlobalControl(person uint32, percent float64) bool {
	return percent > 0 && float64(bucket("global-control", person)) < percent*100
}

// MakePlan decides, for each member, treatment, holdout or exclusion and
// why. First come the rules that define who may be targeted at all:
// never-target lists, the global control group, opt-outs, consent and a
// channel address. Among the persons left, the holdout is drawn (the arm,
// deterministic per campaign and person). Then every rule that keeps a
// person from being sent to now (caps, the channel's cap, quiet hours, the
// send limit) is applied to both arms alike: a holdout person such a rule
// would have kept from a send is excluded too ("would have been
// excluded", Entry.Arm holdout), so that treatment and holdout stay two
// random halves of the same population. The send limit keeps the
// treatment persons with the lowest per-campaign hash, and the holdout
// persons below the same hash cut-off.
func MakePlan(a Audience, o PlanOptions) Plan {
	p := Plan{Counts: map[string]int{}, Excluded: map[string]int{}, HoldoutExcluded: map[string]int{}}
	if a.Members == nil {
		return p
	}
	quiet := inQuietHours(o.Now, o.QuietStart, o.QuietEnd)
	p.Entries = make([]Entry, 0, a.Members.GetCardinality())
	var limited []int // entries still in either arm, for the send limit
	it := a.Members.Iterator()
	for it.HasNext() {
		person := it.Next()
		e := Entry{Person: person, Group: GroupExcluded}
		addr, reachable := Address{}, false
		if a.Addresses != nil {
			addr, reachable = a.Addresses(person)
		}
		switch {
		case has(a.Suppress, person):
			e.Reason = ReasonSuppressed
		case InGlobalControl(person, o.GlobalControlPercent):
			e.Reason = ReasonGlobalControl
		case has(a.OptedOut, person):
			e.Reason = ReasonOptedOut
		case o.Sensitive && !has(a.Consented, person):
			e.Reason = ReasonSensitive
		case !reachable:
			e.Reason = ReasonNoAddress
		default:
			e.Arm = GroupTreatment
			if float64(bucket(o.CampaignID, person)) < o.HoldoutPercent*100 {
				e.Arm = GroupHoldout
			}
			switch {
			case has(a.AtCap, person):
				e.Reason = ReasonCap
			case has(a.AtChannelCap, person):
				e.Reason = ReasonChannelCapLimit
			case quiet:
				e.Reason = ReasonQuietHours
			case o.SendLimit < 0:
				e.Reason = ReasonSendLimit
			default:
				e.Group, e.Address = e.Arm, addr
				if e.Arm == GroupHoldout {
					e.Reason = ReasonHoldout
				}
				limited = append(limited, len(p.Entries))
			}
		}
		p.Entries = append(p.Entries, e)
	}
	if o.SendLimit > 0 {
		applySendLimit(p.Entries, limited, o)
	}
	for _, e := range p.Entries {
		p.Counts[e.Group]++
		switch {
		case e.Group != GroupExcluded:
		case e.Arm == GroupHoldout:
			p.HoldoutExcluded[e.Reason]++
		default:
			p.Excluded[e.Reason]++
		}
	}
	return p
}

// applySendLimit keeps o.SendLimit of the treatment entries among idx
// (indexes into entries), chosen by a per-campaign hash of the person so
// that the limit favours nobody, and the holdout entries whose hash falls
// below the same cut-off; the others are excluded for the send limit.
func applySendLimit(entries []Entry, idx []int, o PlanOptions) {
	var hashes []uint64
	for _, i := range idx {
		if entries[i].Group == GroupTreatment {
			hashes = append(hashes, limitHash(o.CampaignID, entries[i].Person))
		}
	}
	if len(hashes) <= o.SendLimit {
		return
	}
	slices.Sort(hashes)
	cut := hashes[o.SendLimit-1] // the last kept; 64-bit hashes of distinct persons differ
	for _, i := range idx {
		if limitHash(o.CampaignID, entries[i].Person) > cut {
			entries[i].Group, entries[i].Reason, entries[i].Address = GroupExcluded, ReasonSendLimit, Address{}
		}
	}
}

// limitHash orders a campaign's persons for its send limit: FNV-1a of
// campaign and person, whose high bits barely depend on the last bytes,
// so mixed by splitmix64's finalizer before it is compared.
func limitHash(campaign string, person uint32) uint64 {
	h := fnv.New64a()
	h.Write([]byte("send-limit:" + campaign))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], person)
	h.Write(b[:])
	return mix64(h.Sum64())
}

func has(bm *roaring.Bitmap, p uint32) bool { return bm != nil && bm.Contains(p) }
