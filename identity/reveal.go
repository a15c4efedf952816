package identity

import (
	"context"
	"fmt"
	"slices"

	"github.com/granarycdp/cdp/schema"
)

// RevealedPhones are a person's phone numbers in full.
type RevealedPhones struct {
	PersonID uint32   // the canonical person
	Phones   []string // in full, by the time they were linked, each once
	Masked   []string // Phones masked (MaskPhone), for the audit log
}

// RevealPhones decrypts the phone numbers linked to the canonical person
// of p and every person merged into it, from the vault's latest row of
// each (schema.Vault). It is for an admin who gave a reason; the caller
// audits the reveal with Masked, never with Phones. ErrNoSuchPerson when
// the graph does not know p; an error naming the phone's mask when a
// ciphertext does not decrypt (encrypted under another key, see
// docs/security.md on key rotation).
func (s *Service) RevealPhones(ctx context.Context, p uint32) (*RevealedPhones, error) {
	persons := s.Graph.Cluster(p)
	if len(persons) == 0 {
		return nil, ErrNoSuchPerson
	}
	const query = "reveal phones: read vault"
	rows, err := s.DB.Conn.Query(ctx, `SELECT v.ciphertext, v.masked
		FROM `+s.DB.Table("identity_links")+` AS l FINAL
		INNER JOIN `+schema.Vault(s.DB.Table("pii_vault"), "")+` AS v ON v.hash = l.id_value
		WHERE l.id_type = 'phone' AND l.person_id IN ? ORDER BY l.linked_at, l.id_value`, persons)
	if err != nil {
		return nil, queryErr(query, err)
	}
	defer rows.Close()
	out := &RevealedPhones{Phones: []string{}, Masked: []string{}}
	for rows.Next() {
		var ct, m string
		if err := rows.Scan(&ct, &m); err != nil {
			return nil, queryErr(query, err)
		}
		phone, err := s.Protector.Decrypt(ct)
		if err != nil {
			return nil, fmt.Errorf("identity: reveal phones: phone %s: %w", MaskPhone(m), err)
		}
		if !slices.Contains(out.Phones, phone) {
			out.Phones, out.Masked = append(out.Phones, phone), append(out.Masked, MaskPhone(phone))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, queryErr(query, err)
	}
	out.PersonID = s.Graph.Canonical(p)
	return out, nil
}
