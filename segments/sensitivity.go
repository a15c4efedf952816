package segments

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Sensitivity: does a rule single out persons by a sensitive category
// (health interests, PIPL art. 28)? It is decided from the compiled plan,
// never from the rule's text: the plan's leaves hold the literals as the
// engine will match them (escapes such as "\u63a7\u7cd6" already decoded),
// and in_segment is followed into the referenced segments' own plans.
//
// Every text a leaf matches on is examined: event names, property filter
// keys and values (topic, keyword, ...), tags, categories and SKUs, chat
// keywords. Trait leaves (city, province, city tier, numbers) and bucket
// salts select nobody by an interest and are not examined.

// Vocabulary is what makes a rule sensitive: built-in terms and the tags
// marked sensitive. Entries and literals are compared normalised (see
// normalise): a literal is sensitive when it contains an entry. A chat
// keyword is sensitive also when an entry contains it, since chat() finds
// the keyword anywhere in a message: chat("尿病") finds every message
// with 糖尿病. A Vocabulary is immutable and safe for concurrent use.
type Vocabulary struct {
	entries []vocabEntry
}

type vocabEntry struct {
	text, norm string
	tag        bool // a tag marked sensitive (else a built-in term)
}

// NewVocabulary makes a vocabulary of terms and sensitive tags. Entries
// that normalise to nothing are left out.
func NewVocabulary(terms, tags []string) *Vocabulary {
	v := &Vocabulary{}
	for _, list := range []struct {
		texts []string
		tag   bool
	}{{terms, false}, {tags, true}} {
		for _, t := range list.texts {
			if n := normalise(t); n != "" {
				v.entries = append(v.entries, vocabEntry{text: t, norm: n, tag: list.tag})
			}
		}
	}
	return v
}

// normalise folds the ways one word can be written: Unicode compatibility
// forms (NFKC: full-width ＧＩ is GI), letter case, and spaces, invisible
// format characters (zero-width space) and punctuation, which are dropped.
func normalise(s string) string {
	s = strings.ToLower(norm.NFKC.String(s))
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}

// match returns the entry that makes literal sensitive, if any.
func (v *Vocabulary) match(literal string, substring bool) (vocabEntry, bool) {
	n := normalise(literal)
	if n == "" {
		return vocabEntry{}, false
	}
	for _, e := range v.entries {
		if strings.Contains(n, e.norm) || (substring && strings.Contains(e.norm, n)) {
			return e, true
		}
	}
	return vocabEntry{}, false
}

// Finding says why a rule is sensitive: which leaf, reached through which
// segments, matched which literal against which entry.
type Finding struct {
	// Path is the segments followed by in_segment from the rule to the
	// leaf (empty: the leaf is in the rule itself).
	Path []string `json:"path"`
	// Leaf is the leaf as the plan explains it.
	Leaf string `json:"leaf"`
	// Literal is the leaf's decoded text that matched.
	Literal string `json:"literal,omitempty"`
	// Term is the vocabulary entry it matched; Tag tells a tag marked
	// sensitive from a built-in term.
	Term string `json:"term,omitempty"`
	Tag  bool   `json:"tag,omitempty"`
	// Unresolved is set when the leaf is an in_segment of a segment whose
	// rule is unknown: it counts as sensitive, since nothing shows it is
	// not.
	Unresolved bool `json:"unresolved,omitempty"`
}

func (f *Finding) String() string {
	var b strings.Builder
	for _, id := range f.Path {
		b.WriteString("in_segment(" + strconv.Quote(id) + ") → ")
	}
	b.WriteString(f.Leaf)
	switch {
	case f.Unresolved:
		b.WriteString(": the segment's rule is unknown")
	case f.Tag:
		fmt.Fprintf(&b, ": %q matches the tag %q, marked sensitive", f.Literal, f.Term)
	default:
		fmt.Fprintf(&b, ": %q matches the sensitive term %q", f.Literal, f.Term)
	}
	return b.String()
}

// PlanResolver gives the compiled rule of a saved segment, for following
// in_segment. Store implements it.
type PlanResolver interface {
	SegmentPlan(id string) (*Compiled, bool)
}

// Sensitivity returns why the rule c touches a sensitive category, or nil
// when it does not. It follows in_segment through plans transitively,
// each segment once (a cycle ends there); a referenced segment plans does
// not know is a finding (Unresolved).
func Sensitivity(c *Compiled, plans PlanResolver, v *Vocabulary) *Finding {
	return sensitivity(c.plan, plans, v)
}

// SegmentSensitivity is Sensitivity of the saved segment id, read through
// plans as in_segment(id) would be: its findings' paths start with id.
func SegmentSensitivity(id string, plans PlanResolver, v *Vocabulary) *Finding {
	return sensitivity(&segmentLeaf{id: id}, plans, v)
}

func sensitivity(root Node, plans PlanResolver, v *Vocabulary) *Finding {
	seen := map[string]bool{}
	var visit func(n Node, path []string) *Finding
	visit = func(n Node, path []string) *Finding {
		var found *Finding
		Walk(n, func(n Node) {
			if found != nil {
				return
			}
			switch l := n.(type) {
			case *segmentLeaf:
				if seen[l.id] {
					return
				}
				seen[l.id] = true
				var ref *Compiled
				ok := false
				if plans != nil {
					ref, ok = plans.SegmentPlan(l.id)
				}
				if !ok {
					found = &Finding{Path: path, Leaf: l.String(), Unresolved: true}
					return
				}
				found = visit(ref.plan, append(path[:len(path):len(path)], l.id))
			case *sqlLeaf:
				substring := slices.Contains(l.kinds, KindChats) // chat keywords are searched inside messages
				for _, lit := range l.literals() {
					if e, ok := v.match(lit, substring); ok {
						found = &Finding{Path: path, Leaf: l.String(), Literal: lit, Term: e.text, Tag: e.tag}
						return
					}
				}
			case And, Or, AndNot, Not, All, None,
				*rangeLeaf, *knownLeaf, *categoryLeaf, *residualLeaf, *bucketLeaf:
			default:
				panic(fmt.Sprintf("BUG: Sensitivity does not know the plan node %T (%s)", n, n))
			}
		})
		return found
	}
	return visit(root, nil)
}

// literals are the texts a behaviour leaf matches on: its String and
// Array(String) parameters, decoded.
func (l *sqlLeaf) literals() []string {
	var out []string
	for _, p := range l.params {
		switch v := p.Value.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		}
	}
	return out
}

// SegmentPlan is the compiled rule of a saved segment (PlanResolver).
func (s *Store) SegmentPlan(id string) (*Compiled, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.plans[id]
	return c, ok
}
