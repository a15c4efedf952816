package journeys

import (
	"context"

	"github.com/granarycdp/cdp/segments"
)

// branchesBefore returns the indexes of the branch nodes a run may pass
// before reaching the node id: those from which id is reachable.
func (d *Definition) branchesBefore(id string) []int {
	var out []int
	for i := range d.Nodes {
		if d.Nodes[i].Type == NodeBranch && d.reaches(d.Nodes[i].ID, id, map[string]bool{}) {
			out = append(out, i)
		}
	}
	return out
}

// reaches tells whether a path of edges leads from the node from to to.
func (d *Definition) reaches(from, to string, seen map[string]bool) bool {
	n := d.node(from)
	if n == nil || seen[from] {
		return false
	}
	seen[from] = true
	for _, e := range n.edges() {
		if e.to == to || d.reaches(e.to, to, seen) {
			return true
		}
	}
	return false
}

// stepSensitivity says why the persons reaching a send node were selected
// by a sensitive category (nil: they were not): a branch on a sensitive
// condition (a health interest, a tag marked sensitive, a segment reading
// one) that a run may pass before the send, whichever way it went — "no"
// reveals as much as "yes". Such a send, like one after a sensitive entry
// segment, reaches only persons with separate consent (PIPL art. 29;
// campaigns.Campaign.StepSensitive). The vocabulary is read when the step
// is planned, as a segment's sensitivity is.
func (s *Service) stepSensitivity(ctx context.Context, c *compiled, node string) (*segments.Finding, error) {
	for _, i := range c.def.branchesBefore(node) {
		f, err := s.Campaigns.ConditionSensitivity(ctx, c.conds[i])
		if err != nil || f != nil {
			return f, err
		}
	}
	return nil, nil
}
