package wecomops

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store"
)

// TagPrefix starts every person tag read from WeCom: a corp tag 米复购28天
// on any of a customer's staff members becomes the person tag
// "wecom:米复购28天", so rules tell WeCom's tags from the platform's own
// (tag("wecom:米复购28天")).
const TagPrefix = "wecom:"

// TagSource is person_tags.source of the tags read from WeCom.
const TagSource = "wecom"

// Segments is what the tag sync needs of the segment store
// (segments.Store implements it).
type Segments interface {
	Get(id string) (segments.Definition, error)
	Members(id string) (*roaring.Bitmap, error)
}

// Options configure a Service. Zero values take the defaults given.
type Options struct {
	DB       *store.DB
	Client   *wecom.Client
	Segments Segments
	// Touched is told which persons' tags changed (segments.Store.Touched),
	// so live segments reading WeCom tags re-evaluate them.
	Touched func(persons []uint32, kinds []string)
	Clock   Clock // default RealClock
	Logger  *slog.Logger
	// MarkTagPerMinute and MarkTagPerHour pace mark_tag (default 9,000
	// and 140,000: below WeCom's 10,000 and 150,000, leaving room for
	// calls made elsewhere); GetPerMinute and GetPerHour pace
	// externalcontact/get (default 5,000 and 70,000: the callback path
	// calls it too).
	MarkTagPerMinute, MarkTagPerHour int
	GetPerMinute, GetPerHour         int
	// Workers is how many mark_tag calls are in flight at once (default 8).
	Workers int
	// Batch is how many pair writes are journalled together (default 500):
	// after a crash at most this many calls are made again.
	Batch int
	// ResyncEvery is how often every sync is reconciled in full (default
	// 10 min); LibraryEvery how often the corp tag library is read
	// (default 10 min); ReadEvery how often new contact changes are
	// looked for (default 5 s).
	ResyncEvery, LibraryEvery, ReadEvery time.Duration
	// LossRobotURL is the group robot webhook lost customers are
	// reported to (lost.go); "" records them without an alert. Managers
	// maps a staff userid to their manager's, @-mentioned in the alert
	// ("*" for everyone else).
	LossRobotURL string
	Managers     map[string]string
	// GroupsEvery is how often every customer group is read again
	// (default 30 min; callbacks bring changed groups in between), and
	// GroupGetPerMinute and GroupGetPerHour pace groupchat/get (default
	// 5,000 and 70,000, half WeCom's per-API limits).
	GroupsEvery                        time.Duration
	GroupGetPerMinute, GroupGetPerHour int
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MarkTagPerMinute, 9000)
	def(&o.MarkTagPerHour, 140000)
	def(&o.GetPerMinute, 5000)
	def(&o.GetPerHour, 70000)
	def(&o.Workers, 8)
	def(&o.Batch, 500)
	def(&o.GroupGetPerMinute, 5000)
	def(&o.GroupGetPerHour, 70000)
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defd(&o.ResyncEvery, 10*time.Minute)
	defd(&o.LibraryEvery, 10*time.Minute)
	defd(&o.ReadEvery, 5*time.Second)
	defd(&o.GroupsEvery, 30*time.Minute)
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Touched == nil {
		o.Touched = func([]uint32, []string) {}
	}
	return o
}

// Service reads WeCom tags into person tags and syncs segments to corp
// tags. It is safe for concurrent use; Run drives its loops.
type Service struct {
	o              Options
	db             *store.DB
	markRate, gets *limiter

	mu      sync.Mutex
	changed map[string]*pendingPersons // segment id -> persons who entered or left
	full    bool                       // a sync was created or stopped: reconcile all
	wake    chan struct{}

	cw     cwState    // contact ways and welcome messages (contactway.go)
	groups groupQueue // customer groups changed by callbacks (groups.go)

	moments momentState // moment tasks' results read (moments_poll.go)
	// momentCrash, when a test sets it, is asked at each crash point of
	// a moment task's creation ("before_call", "after_call"); true
	// makes the creation stop there as a killed process would.
	momentCrash func(point string) bool
}

// pendingPersons are persons whose membership changed, with the time the
// earliest change was seen (the start of the entry→tag delay).
type pendingPersons struct {
	persons *roaring.Bitmap
	since   time.Time
}

// New returns a Service. DB, Client and Segments are required.
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Client == nil || o.Segments == nil {
		return nil, errors.New("wecomops: DB, Client and Segments are required")
	}
	o = o.withDefaults()
	if o.Batch > 10000 {
		return nil, fmt.Errorf("wecomops: Batch %d is over 10,000", o.Batch)
	}
	return &Service{
		o: o, db: o.DB,
		markRate: newLimiter(o.Clock, o.MarkTagPerMinute, o.MarkTagPerHour),
		gets:     newLimiter(o.Clock, o.GetPerMinute, o.GetPerHour),
		changed:  map[string]*pendingPersons{}, wake: make(chan struct{}, 1),
		cw:      newCWState(o.Clock),
		groups:  newGroupQueue(o.Clock, o.GroupGetPerMinute, o.GroupGetPerHour),
		moments: momentState{readAt: map[string]time.Time{}},
	}, nil
}

// SegmentChanged takes a segment's membership change (call it from
// segments.Store.OnChange): the persons who entered or left are queued
// for the syncs of that segment and the sync loop is woken. It never
// blocks.
func (s *Service) SegmentChanged(ch segments.Change) {
	if len(ch.Entered)+len(ch.Exited) == 0 {
		return
	}
	s.mu.Lock()
	p := s.changed[ch.Segment]
	if p == nil {
		p = &pendingPersons{persons: roaring.New(), since: s.o.Clock.Now()}
		s.changed[ch.Segment] = p
	}
	p.persons.AddMany(ch.Entered)
	p.persons.AddMany(ch.Exited)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// takeChanged hands over the queued changes.
func (s *Service) takeChanged() map[string]*pendingPersons {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.changed
	s.changed = map[string]*pendingPersons{}
	return out
}
