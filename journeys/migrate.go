package journeys

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/granarycdp/cdp/campaigns"
)

// Migrate moves the runs of m.FromVersion at the nodes m.Nodes names to
// the mapped nodes of m.ToVersion, and returns how many moved. A run moved
// to a wait or wait-for keeps when its wait began (the wait is not made
// longer by the move); moved elsewhere it is ready there at once. Runs at
// nodes the mapping does not name stay on their version. A mapping that
// names a node either version lacks is a *FieldError and moves nobody.
func (s *Service) Migrate(ctx context.Context, id string, m Mapping, by string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureLoaded(ctx); err != nil {
		return 0, err
	}
	lj := s.live[id]
	if lj == nil {
		if _, err := s.Get(ctx, id); err != nil {
			return 0, err
		}
		return 0, &FieldError{Field: "status", Message: "the journey is not running or paused: it has no runs to move"}
	}
	from, to, err := s.mappingVersions(ctx, lj, m)
	if err != nil {
		return 0, err
	}
	now := s.now().UnixMilli()
	var moves []move
	for _, p := range sortedRuns(lj) {
		r := lj.runs[p]
		if r.version != m.FromVersion {
			continue
		}
		old := &from.def.Nodes[r.node]
		target, ok := m.Nodes[old.ID]
		if !ok {
			continue
		}
		nr := r
		nr.seq++
		nr.version, nr.node, nr.waiting, nr.wake = to.version, to.index[target], false, 0
		if t := to.def.Nodes[nr.node].Type; t != NodeWait && t != NodeWaitFor {
			nr.since = now
		}
		moves = append(moves, move{person: p, r: nr, node: old.ID, typ: "migrate", outcome: "migrated", detail: fmt.Sprintf("v%d/%s", to.version, target)})
	}
	for i := 0; i < len(moves); i += s.batch() {
		if err := s.apply(ctx, lj, moves[i:min(i+s.batch(), len(moves))]); err != nil {
			return i, err
		}
	}
	s.logger().Info("journey runs migrated", "journey", id, "from", m.FromVersion, "to", m.ToVersion, "runs", len(moves), "by", by)
	s.kick()
	return len(moves), nil
}

// mappingVersions checks a mapping against its two versions.
func (s *Service) mappingVersions(ctx context.Context, lj *live, m Mapping) (from, to *compiled, err error) {
	if m.FromVersion == m.ToVersion {
		return nil, nil, &FieldError{Field: "to_version", Message: "is the version the runs are on"}
	}
	if from, err = s.version(ctx, lj, m.FromVersion); err != nil {
		return nil, nil, &FieldError{Field: "from_version", Message: "no such version"}
	}
	if to, err = s.version(ctx, lj, m.ToVersion); err != nil {
		return nil, nil, &FieldError{Field: "to_version", Message: "no such version"}
	}
	if len(m.Nodes) == 0 {
		return nil, nil, &FieldError{Field: "nodes", Message: "name at least one node to move runs from"}
	}
	for _, old := range slices.Sorted(maps.Keys(m.Nodes)) {
		if _, ok := from.index[old]; !ok {
			return nil, nil, &FieldError{Field: "nodes." + old, Message: fmt.Sprintf("version %d has no node %q", m.FromVersion, old)}
		}
		if _, ok := to.index[m.Nodes[old]]; !ok {
			return nil, nil, &FieldError{Field: "nodes." + old, Message: fmt.Sprintf("version %d has no node %q", m.ToVersion, m.Nodes[old])}
		}
	}
	return from, to, nil
}

// sortedRuns lists a journey's persons with an active run, in order.
func sortedRuns(lj *live) []uint32 {
	out := make([]uint32, 0, len(lj.runs))
	for p := range lj.runs {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// DeclareWinner sends everyone who reaches split node from now on down
// arm: only when the anytime-valid test says so (campaigns.Measure's
// confidence sequence, valid however often the results were looked at):
// a later arm's conversion effect against the first arm's is
// significantly positive, or, for the first arm, every other arm's is
// significantly negative. Otherwise it is a *FieldError.
func (s *Service) DeclareWinner(ctx context.Context, id, node, arm, by string) (Journey, error) {
	j, err := s.Get(ctx, id)
	if err != nil {
		return j, err
	}
	n := j.node(node)
	if n == nil || n.Type != NodeSplit {
		return j, &FieldError{Field: "node", Message: "the current version has no split " + fmt.Sprintf("%q", node)}
	}
	offer, err := s.Campaigns.Offer(ctx, j.Settings.GoalOfferID)
	if err != nil {
		return j, err
	}
	res, err := s.splitResult(ctx, j, *n, offer)
	if err != nil {
		return j, err
	}
	if err := winnerShown(n, res, arm); err != nil {
		return j, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sts, err := s.readStates(ctx, id)
	if err != nil || len(sts) == 0 {
		return j, err
	}
	st := sts[0]
	if st.Winners == nil {
		st.Winners = map[string]string{}
	}
	st.Winners[node] = arm
	if err := s.writeState(ctx, st, by); err != nil {
		return j, err
	}
	if lj := s.live[id]; lj != nil {
		lj.st.Winners = st.Winners
	}
	return s.Get(ctx, id)
}

// winnerShown tells whether the split's results show arm the winner.
func winnerShown(n *Node, res *SplitResult, arm string) error {
	first := n.Split.Arms[0].Name
	better := func(u campaigns.Uplift, sign float64) bool {
		return u.Conversion != nil && u.Conversion.Significant && sign*u.Conversion.Estimate > 0
	}
	switch _, known := res.Arms[arm]; {
	case !known && !slices.ContainsFunc(n.Split.Arms, func(a SplitArm) bool { return a.Name == arm }):
		return &FieldError{Field: "arm", Message: fmt.Sprintf("the split has no arm %q", arm)}
	case arm != first && better(res.VsFirst[arm], 1):
		return nil
	case arm == first:
		for name, u := range res.VsFirst {
			if !better(u, -1) {
				return &FieldError{Field: "arm", Message: fmt.Sprintf("arm %s is not yet shown worse than %s by the confidence sequence", name, first)}
			}
		}
		return nil
	}
	return &FieldError{Field: "arm", Message: fmt.Sprintf("arm %s is not yet shown better than %s by the confidence sequence (peeking-safe); keep the split running", arm, first)}
}
