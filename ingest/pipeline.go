package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest/spool"
	"github.com/granarycdp/cdp/store"
)

// Resolver assigns a record's identifiers to a person (the identity
// graph, *identity.Graph) and appends what it changed to ch, which the
// pipeline stores in the same batch as the records. Without one, records
// keep person_id 0.
type Resolver interface {
	Resolve(ref string, ids []identity.Identifier, at time.Time, ch *identity.Changes) uint32
}

// PipelineOptions configure a Pipeline.
type PipelineOptions struct {
	Spool  *spool.Spool
	Writer *store.Writer
	// SpoolID names this spool's incarnation; with the range of a batch
	// it forms the batch's deduplication token, so a new spool whose
	// sequence restarts at 1 never collides with an old one's tokens.
	SpoolID string
	// BatchRecords caps a batch; 50k records make ~50k-row inserts, in
	// ClickHouse's recommended 10k-100k range.
	BatchRecords int
	// Linger is how long a batch waits for more records once it has one;
	// it bounds the delay from acknowledgement to visibility in ClickHouse
	// at low rates (plus the insert itself).
	Linger time.Duration
	// MaxLinger bounds how long a batch keeps gathering past Linger
	// while the stages ahead are busy (see gather). At the ~100k
	// records/s the HTTP side acknowledges on two cores, a 50k-record
	// batch fills in ~0.5 s; 2 s leaves room for a slower machine and
	// still bounds the wait when the engine stalls.
	MaxLinger time.Duration
	Resolver  Resolver
	// AfterCommit, when set, learns after each committed batch which
	// tables it wrote and which persons it touched in each (live segments,
	// journeys). It must not block.
	AfterCommit func(Committed)
	Logger      *slog.Logger
}

// Pipeline moves spooled records into ClickHouse in batches formed from
// spool ranges. Each range is planned durably before its insert and
// committed (trimming the spool) after ClickHouse confirmed, so after a
// crash the same ranges are re-sent with the same tokens and nothing is
// stored twice or lost.
//
// The work is pipelined: four stages (gather and plan, decode, resolve
// identities and build rows, insert and commit) run at once on successive
// batches, handing them on through channels of pipelineDepth batches, so
// the engine inserts one batch while the platform prepares the next. A
// stage that is ahead waits for the next one (back-pressure): at most
// 4 + 3*pipelineDepth batches are in memory. Batches are inserted and
// committed one at a time, in spool order, exactly as before: the
// identity graph resolves batch n+1 before batch n is confirmed, but
// ClickHouse receives batch n+1's persons and links only after all of
// batch n, so a crash leaves the same states as without the overlap.
type Pipeline struct {
	opts   PipelineOptions
	logger *slog.Logger
	tables map[string]*store.TableWriter

	// ahead counts the batches planned and not yet committed (gather
	// keeps a batch open while lingerAhead of them are in the stages).
	ahead atomic.Int32
	// after is the linger's clock (time.After; tests move it).
	after func(time.Duration) <-chan time.Time

	mu        sync.Mutex
	committed chan struct{} // closed and replaced on every commit
}

// lingerAhead is how many batches must be ahead in the stages for gather
// to keep its batch open past Linger: with two ahead (one being inserted,
// one queued or being built), the batch could not reach the insert stage
// before both are committed, so gathering longer delays nothing, and
// handing it on when only one is left still lets it be decoded and built
// while that one is inserted.
const lingerAhead = 2

// pipelineDepth is the batches each stage's output channel holds.
const pipelineDepth = 1

// work is one planned range on its way through the stages.
type work struct {
	r       spool.Range
	spooled []spool.Record // gathered (dropped once decoded)
	recs    []*Record      // decoded
	seqs    []uint64       // their sequence numbers
	// built: the events, orders, their lines and contact changes column
	// by column
	events   eventCols
	orders   orderCols
	lines    lineCols
	contacts contactCols
	rows     map[string][][]any  // built: the other tables' rows
	changes  identity.Changes    // identity changes of the batch
	touched  map[string][]uint32 // persons the batch resolved to, by table
}

// Committed is what one committed batch wrote: its tables, and the persons
// of its records by the table they went to (events, orders, wecom_messages,
// wecom_contact_events; "persons" for those created, merged or split).
type Committed struct {
	Tables  []string
	Persons map[string][]uint32
}

// All returns every person the batch touched (with repeats).
func (c Committed) All() []uint32 {
	var out []uint32
	for _, persons := range c.Persons {
		out = append(out, persons...)
	}
	return out
}

// Table columns, in the order rows are built.
var (
	eventColumns      = []string{"id_types", "id_values", "message_id", "type", "event", "ts", "received_at", "source", "person_id", "user_id", "anonymous_id", "properties", "traits", "context", "spool_seq"}
	orderColumns      = []string{"id_types", "id_values", "channel", "order_id", "version", "status", "ordered_at", "status_at", "amount", "currency", "province", "city", "store_id", "leader_id", "person_id", "source", "received_at", "spool_seq"}
	orderLineColumns  = []string{"channel", "order_id", "line_no", "version", "sku", "product_name", "category", "quantity", "unit_price", "amount", "ordered_at", "person_id"}
	contactColumns    = []string{"dedup_key", "ts", "change_type", "corp_id", "staff_userid", "external_userid", "state", "name", "unionid", "person_id", "received_at", "spool_seq"}
	messageColumns    = []string{"msgid", "action", "from", "tolist", "roomid", "msgtime", "msgtype", "content", "pre_msgid", "external_userid", "staff_userid", "person_id", "body", "received_at", "spool_seq"}
	vaultColumns      = []string{"hash", "type", "masked", "ciphertext", "updated_at"}
	deadLetterColumns = []string{"received_at", "source", "endpoint", "position", "code", "field", "message", "payload"}
)

// insertStages are the tables of a batch in the order they are inserted;
// the tables of one stage go in parallel. Persons first, then the rest of
// identity, so that after a crash between two inserts the rebuilt graph
// already knows every person its links name and holds the links the
// replayed records will find; then the records.
var insertStages = [][]string{
	{"persons"},
	{"identity_links", "identity_merges", "identity_conflicts"},
	{"pii_vault", "events", "orders", "order_lines", "wecom_contact_events", "wecom_messages", "ingest_dead_letters"},
}

// NewPipeline prepares a pipeline; Run moves the records.
func NewPipeline(opts PipelineOptions) *Pipeline {
	if opts.BatchRecords <= 0 {
		opts.BatchRecords = 50_000
	}
	if opts.Linger <= 0 {
		opts.Linger = 200 * time.Millisecond
	}
	if opts.MaxLinger < opts.Linger {
		opts.MaxLinger = max(opts.Linger, 2*time.Second)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w := opts.Writer
	p := &Pipeline{
		opts:   opts,
		logger: opts.Logger.With("component", "ingest-pipeline"),
		tables: map[string]*store.TableWriter{
			// Keys for the check after a deduplicated insert
			// (store.TableWriter.Keyed): the spool position, one record's.
			"events":               w.Table("events", eventColumns...).Keyed("spool_seq"),
			"orders":               w.Table("orders", orderColumns...).Keyed("spool_seq"),
			"order_lines":          w.Table("order_lines", orderLineColumns...).Keyed("channel", "order_id", "line_no", "version"),
			"wecom_contact_events": w.Table("wecom_contact_events", contactColumns...).Keyed("spool_seq"),
			"wecom_messages":       w.Table("wecom_messages", messageColumns...).Keyed("spool_seq"),
			"pii_vault":            w.Table("pii_vault", vaultColumns...),
			"ingest_dead_letters":  w.Table("ingest_dead_letters", deadLetterColumns...),
		},
		after:     time.After,
		committed: make(chan struct{}),
	}
	for table, cols := range identity.Tables {
		p.tables[table] = w.Table(table, cols...)
	}
	return p
}

// Run moves records until ctx ends. Planned ranges left by a previous run
// go first, exactly as planned. It returns nil when ctx ends; batches
// planned but not committed then stay planned for the next run.
func (p *Pipeline) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	gathered := make(chan *work, pipelineDepth)
	decoded := make(chan *work, pipelineDepth)
	built := make(chan *work, pipelineDepth)
	g.Go(func() error {
		defer close(gathered)
		return p.plan(gctx, gathered)
	})
	g.Go(func() error {
		defer close(decoded)
		return stage(gctx, gathered, decoded, p.decode)
	})
	g.Go(func() error {
		defer close(built)
		return stage(gctx, decoded, built, p.build)
	})
	g.Go(func() error {
		for w := range built {
			if err := p.store(gctx, w); err != nil {
				return err
			}
		}
		return nil
	})
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// stage applies f to each batch of in and hands it to out, until in is
// closed or ctx ends.
func stage(ctx context.Context, in <-chan *work, out chan<- *work, f func(*work) error) error {
	for w := range in {
		if err := f(w); err != nil {
			return err
		}
		if err := send(ctx, out, w); err != nil {
			return err
		}
	}
	return nil
}

func send(ctx context.Context, out chan<- *work, w *work) error {
	select {
	case out <- w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// plan hands on the ranges a previous run planned, then gathers new
// batches and plans each durably before handing it on.
func (p *Pipeline) plan(ctx context.Context, out chan<- *work) error {
	next := p.opts.Spool.Committed() + 1
	p.ahead.Store(0) // a Run before this one may have left batches planned
	for _, r := range p.opts.Spool.Plans() {
		p.ahead.Add(1)
		recs, err := p.readRange(ctx, r)
		if err != nil {
			return err
		}
		if err := send(ctx, out, &work{r: r, spooled: recs}); err != nil {
			return err
		}
		next = r.Last + 1
	}
	for {
		recs, err := p.gather(ctx, next)
		if err != nil {
			return err
		}
		r := spool.Range{First: recs[0].Seq, Last: recs[len(recs)-1].Seq}
		if err := p.opts.Spool.Plan(r.First, r.Last); err != nil {
			return fmt.Errorf("plan batch: %w", err)
		}
		p.ahead.Add(1)
		if err := send(ctx, out, &work{r: r, spooled: recs}); err != nil {
			return err
		}
		next = r.Last + 1
	}
}

// gather reads the next batch from next on: at least one record, then
// more until the batch is full or it has lingered (see linger).
func (p *Pipeline) gather(ctx context.Context, next uint64) ([]spool.Record, error) {
	recs, err := p.opts.Spool.Read(ctx, next, p.opts.BatchRecords, 64<<20)
	if err != nil {
		return nil, err
	}
	wait, cancel := p.linger(ctx)
	defer cancel()
	for len(recs) < p.opts.BatchRecords {
		more, err := p.opts.Spool.Read(wait, recs[len(recs)-1].Seq+1, p.opts.BatchRecords-len(recs), 64<<20)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			break // linger over
		}
		recs = append(recs, more...)
	}
	return recs, nil
}

// linger returns a context that ends once Linger has passed and fewer
// than lingerAhead batches are ahead in the stages, or MaxLinger has
// passed. Under a backlog the inserts take longer than Linger, batches
// queue up, and the one being gathered grows (up to BatchRecords)
// instead of following as another small one: fewer, larger inserts
// write fewer parts for the engine to merge. A quiet stream has nothing
// ahead and is handed on after Linger, as before.
func (p *Pipeline) linger(ctx context.Context) (context.Context, context.CancelFunc) {
	wait, cancel := context.WithTimeout(ctx, p.opts.MaxLinger)
	go func() {
		defer cancel()
		select {
		case <-p.after(p.opts.Linger):
		case <-wait.Done():
			return
		}
		for {
			p.mu.Lock()
			committed := p.committed
			p.mu.Unlock()
			if p.ahead.Load() < lingerAhead {
				return
			}
			select {
			case <-committed:
			case <-wait.Done():
				return
			}
		}
	}()
	return wait, cancel
}

func (p *Pipeline) readRange(ctx context.Context, r spool.Range) ([]spool.Record, error) {
	var out []spool.Record
	for from := r.First; from <= r.Last; {
		recs, err := p.opts.Spool.Read(ctx, from, int(r.Last-from+1), 64<<20)
		if err != nil {
			return nil, fmt.Errorf("replay planned range %d-%d: %w", r.First, r.Last, err)
		}
		for _, rec := range recs {
			if rec.Seq <= r.Last {
				out = append(out, rec)
			}
		}
		from = recs[len(recs)-1].Seq + 1
	}
	return out, nil
}

// decode turns a batch's spooled bytes into records.
func (p *Pipeline) decode(w *work) error {
	w.recs, w.seqs = make([]*Record, len(w.spooled)), make([]uint64, len(w.spooled))
	for i, sr := range w.spooled {
		w.seqs[i] = sr.Seq
		r, err := decodeRecord(sr.Data)
		if err != nil {
			return fmt.Errorf("spool record %d: %w", sr.Seq, err)
		}
		w.recs[i] = r
	}
	w.spooled = nil
	return nil
}

// store inserts one planned range into every table it touches and commits
// it.
func (p *Pipeline) store(ctx context.Context, w *work) error {
	r := w.r
	for _, stage := range insertStages {
		if err := p.insertStage(ctx, w, stage); err != nil {
			return err
		}
	}
	if err := p.opts.Spool.Commit(r.Last); err != nil {
		return fmt.Errorf("commit spool up to %d: %w", r.Last, err)
	}
	p.ahead.Add(-1)
	if p.opts.AfterCommit != nil {
		tables := make([]string, 0, len(w.rows)+len(columnarTables))
		for t := range w.rows {
			tables = append(tables, t)
		}
		for _, t := range columnarTables {
			if w.columnar(t).len() > 0 {
				tables = append(tables, t)
			}
		}
		for _, pr := range w.changes.Persons {
			w.touch("persons", pr.Person)
			w.touch("persons", pr.Canonical)
		}
		p.opts.AfterCommit(Committed{Tables: tables, Persons: w.touched})
	}
	p.mu.Lock()
	close(p.committed)
	p.committed = make(chan struct{})
	p.mu.Unlock()
	return nil
}

// insertStage inserts a stage's tables in parallel, each with its
// range-derived token. A permanent refusal (a bug: records were validated)
// is retried with back-off rather than dropped, and logged loudly.
func (p *Pipeline) insertStage(ctx context.Context, w *work, tables []string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(tables))
	for i, table := range tables {
		insert := p.inserter(w, table)
		if insert == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.insertTable(ctx, w.r, table, insert)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// inserter is how a batch's rows of table are inserted with a token, or
// nil when the batch has none: columnarTables column by column, the rest
// row by row.
func (p *Pipeline) inserter(w *work, table string) func(ctx context.Context, token string) error {
	tw := p.tables[table]
	if cols := w.columnar(table); cols != nil {
		if cols.len() == 0 {
			return nil
		}
		return func(ctx context.Context, token string) error {
			return tw.InsertColumns(ctx, token, cols.columns()...)
		}
	}
	rows := w.rows[table]
	if len(rows) == 0 {
		return nil
	}
	return func(ctx context.Context, token string) error { return tw.Insert(ctx, token, rows) }
}

func (p *Pipeline) insertTable(ctx context.Context, r spool.Range, table string, insert func(context.Context, string) error) error {
	token := fmt.Sprintf("%s:%d-%d:%s", p.opts.SpoolID, r.First, r.Last, table)
	for backoff := time.Second; ; backoff = min(2*backoff, 30*time.Second) {
		err := insert(ctx, token)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.logger.Error("BUG: spooled records refused by ClickHouse; retrying", "table", table, "range", fmt.Sprintf("%d-%d", r.First, r.Last), "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitCommitted blocks until every record up to seq is in ClickHouse.
func (p *Pipeline) WaitCommitted(ctx context.Context, seq uint64) error {
	for {
		p.mu.Lock()
		ch := p.committed
		p.mu.Unlock()
		if p.opts.Spool.Committed() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
