-- Canonical
(SELECT person_id, canonical FROM {db}.persons FINAL)

-- Canonical narrowed
(SELECT person_id, canonical FROM {db}.persons FINAL WHERE canonical IN ?)

-- ValidOrder
status NOT IN ('refunded', 'cancelled')

-- ValidOrderOf(o)
o.status NOT IN ('refunded', 'cancelled')

-- InvalidOrder
status IN ('refunded', 'cancelled')

-- Vault
(SELECT hash, argMax(masked, updated_at) AS masked, argMax(ciphertext, updated_at) AS ciphertext FROM {db}.pii_vault GROUP BY hash)

-- Vault narrowed
(SELECT hash, argMax(masked, updated_at) AS masked, argMax(ciphertext, updated_at) AS ciphertext FROM {db}.pii_vault WHERE hash IN ? GROUP BY hash)

-- BeijingDate
toDate(o.ordered_at, 'Asia/Shanghai')

