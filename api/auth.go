package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/store"
)

// Role is what an API token may do. Roles are ordered: each includes the
// rights of those below it.
type Role string

const (
	RoleAnalyst  Role = "analyst"  // read-only
	RoleMarketer Role = "marketer" // segments, campaigns
	RoleAdmin    Role = "admin"    // settings, credentials
)

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleMarketer:
		return 2
	case RoleAnalyst:
		return 1
	}
	return 0
}

// Allows tells whether r includes the rights of need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && need.rank() > 0 }

// Scope is what a write key may send. Client keys are shipped inside
// SDKs, web pages and mini-programs, where anyone can read them; server keys
// stay on the brand's servers.
type Scope string

const (
	// ScopeClient sends behaviour: track, identify, page, screen, group,
	// alias and batch.
	ScopeClient Scope = "client"
	// ScopeServer sends everything a client key may, plus orders and file
	// imports (events, orders, WeCom chat archives).
	ScopeServer Scope = "server"
)

// Valid tells whether s is a known scope.
func (s Scope) Valid() bool { return s == ScopeClient || s == ScopeServer }

// Principal is the caller behind a credential.
type Principal struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Role   Role   `json:"role,omitempty"`
	Source string `json:"source,omitempty"` // write keys only
	Scope  Scope  `json:"scope,omitempty"`  // write keys only
}

// Credentials keeps API tokens and write keys in ClickHouse (hashed) and
// answers lookups from memory. It is safe for concurrent use.
type Credentials struct {
	db *store.DB

	mu      sync.RWMutex
	tokens  map[string]Principal // by hex SHA-256 of the secret
	keys    map[string]Principal
	loaded  time.Time
	refresh time.Duration
	// reloading is set while a request reloads the stale credentials:
	// the others go on with the last ones instead of each querying too.
	reloading atomic.Bool
	reloads   atomic.Int64 // Reload calls, for tests
}

// NewCredentials loads the credentials from the database.
func NewCredentials(ctx context.Context, db *store.DB) (*Credentials, error) {
	c := &Credentials{db: db, refresh: 30 * time.Second}
	return c, c.Reload(ctx)
}

// Hash is the stored form of a secret.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// NewSecret returns a random secret with a readable prefix ("cdp_at_" for
// API tokens, "cdp_wk_" for write keys).
func NewSecret(prefix string) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Reload reads all live credentials. Other processes' changes are picked up
// by the periodic reload in Lookup*.
func (c *Credentials) Reload(ctx context.Context) error {
	c.reloads.Add(1)
	tokens, err := c.load(ctx, "SELECT id, name, role, token_hash, '', '' FROM "+c.db.Table("api_tokens")+" FINAL WHERE revoked = 0")
	if err != nil {
		return fmt.Errorf("load API tokens: %w", err)
	}
	keys, err := c.load(ctx, "SELECT id, name, '', key_hash, source, scope FROM "+c.db.Table("write_keys")+" FINAL WHERE revoked = 0")
	if err != nil {
		return fmt.Errorf("load write keys: %w", err)
	}
	c.mu.Lock()
	c.tokens, c.keys, c.loaded = tokens, keys, time.Now()
	c.mu.Unlock()
	return nil
}

func (c *Credentials) load(ctx context.Context, query string) (map[string]Principal, error) {
	rows, err := c.db.Conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Principal{}
	for rows.Next() {
		var p Principal
		var role, hash, scope string
		if err := rows.Scan(&p.ID, &p.Name, &role, &hash, &p.Source, &scope); err != nil {
			return nil, err
		}
		p.Role, p.Scope = Role(role), Scope(scope)
		out[hash] = p
	}
	return out, rows.Err()
}

// maybeReload reloads the credentials when they are older than refresh,
// in one request at a time: while it reads, the others use the last
// credentials rather than each waiting for a read of their own. Before,
// every request in the window queried ClickHouse; under sustained ingest
// that was an acknowledgement p99 of 100-220 ms every 30 s.
func (c *Credentials) maybeReload(ctx context.Context) {
	c.mu.RLock()
	stale := time.Since(c.loaded) > c.refresh
	c.mu.RUnlock()
	if stale && c.reloading.CompareAndSwap(false, true) {
		defer c.reloading.Store(false)
		// A failed reload keeps the last known credentials.
		_ = c.Reload(ctx)
	}
}

// LookupToken returns the principal of an API token secret.
func (c *Credentials) LookupToken(ctx context.Context, secret string) (Principal, bool) {
	c.maybeReload(ctx)
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.tokens[Hash(secret)]
	return p, ok
}

// LookupWriteKey returns the principal of a write key secret.
func (c *Credentials) LookupWriteKey(ctx context.Context, secret string) (Principal, bool) {
	c.maybeReload(ctx)
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.keys[Hash(secret)]
	return p, ok
}

// PutToken stores an API token (a new one, or a new version of id).
func (c *Credentials) PutToken(ctx context.Context, p Principal, secret, by string) error {
	if p.Role.rank() == 0 {
		return fmt.Errorf("unknown role %q", p.Role)
	}
	now := time.Now()
	err := c.db.Conn.Exec(ctx, "INSERT INTO "+c.db.Table("api_tokens")+
		" (id, name, role, token_hash, created_at, created_by, revoked, version) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
		p.ID, p.Name, string(p.Role), Hash(secret), now, by, uint64(now.UnixNano()))
	if err != nil {
		return err
	}
	return c.Reload(ctx)
}

// PutWriteKey stores an ingest write key; p.Scope must be client or server.
func (c *Credentials) PutWriteKey(ctx context.Context, p Principal, secret, by string) error {
	if !p.Scope.Valid() {
		return fmt.Errorf("unknown write key scope %q", p.Scope)
	}
	now := time.Now()
	err := c.db.Conn.Exec(ctx, "INSERT INTO "+c.db.Table("write_keys")+
		" (id, name, source, scope, key_hash, created_at, created_by, revoked, version) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
		p.ID, p.Name, p.Source, string(p.Scope), Hash(secret), now, by, uint64(now.UnixNano()))
	if err != nil {
		return err
	}
	return c.Reload(ctx)
}

// ErrNoSuchCredential is returned when revoking an unknown id.
var ErrNoSuchCredential = errors.New("no such credential")

// Revoke revokes an API token ("api_tokens") or write key ("write_keys") by id.
func (c *Credentials) Revoke(ctx context.Context, table, id string) error {
	hashCol := map[string]string{"api_tokens": "token_hash", "write_keys": "key_hash"}[table]
	if hashCol == "" {
		return fmt.Errorf("BUG: revoke from %q", table)
	}
	var n uint64
	if err := c.db.Conn.QueryRow(ctx, "SELECT count() FROM "+c.db.Table(table)+" FINAL WHERE id = ? AND revoked = 0", id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrNoSuchCredential
	}
	// The newest version of the row, marked revoked, replaces it.
	err := c.db.Conn.Exec(ctx, "INSERT INTO "+c.db.Table(table)+
		" SELECT * REPLACE (1 AS revoked, toUInt64(?) AS version) FROM "+c.db.Table(table)+" FINAL WHERE id = ?",
		uint64(time.Now().UnixNano()), id)
	if err != nil {
		return err
	}
	return c.Reload(ctx)
}

// List returns the live API tokens (or write keys) without secrets.
func (c *Credentials) List(writeKeys bool) []Principal {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m := c.tokens
	if writeKeys {
		m = c.keys
	}
	out := make([]Principal, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

// Bootstrap makes the given secrets valid as the admin token and the
// default write key (ids tok_bootstrap and wk_bootstrap), replacing earlier
// bootstrap values. Empty secrets are skipped. The write key is a server
// key: it comes from the operator's environment, like the admin token, and
// serves server-side loaders (orders, imports, the demo); SDKs get client
// keys created in the console.
func (c *Credentials) Bootstrap(ctx context.Context, adminToken, writeKey string) error {
	if adminToken != "" {
		if p, ok := c.LookupToken(ctx, adminToken); !ok || p.ID != "tok_bootstrap" || p.Role != RoleAdmin {
			err := c.PutToken(ctx, Principal{ID: "tok_bootstrap", Name: "bootstrap admin (CDP_ADMIN_TOKEN)", Role: RoleAdmin}, adminToken, "bootstrap")
			if err != nil {
				return fmt.Errorf("bootstrap admin token: %w", err)
			}
		}
	}
	if writeKey != "" {
		if p, ok := c.LookupWriteKey(ctx, writeKey); !ok || p.ID != "wk_bootstrap" || p.Scope != ScopeServer {
			err := c.PutWriteKey(ctx, Principal{ID: "wk_bootstrap", Name: "bootstrap write key (CDP_WRITE_KEY)", Source: "default", Scope: ScopeServer}, writeKey, "bootstrap")
			if err != nil {
				return fmt.Errorf("bootstrap write key: %w", err)
			}
		}
	}
	return nil
}

const principalKey = "cdp.principal"

// requireToken authenticates `Authorization: Bearer <token>` and checks the
// role. Missing or unknown tokens get 401, a weaker role 403.
func (s *Server) requireToken(need Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		auth := c.GetHeader("Authorization")
		secret, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || secret == "" {
			c.Header("WWW-Authenticate", `Bearer realm="cdp"`)
			fail(c, http.StatusUnauthorized, CodeUnauthorized, "missing API token: send Authorization: Bearer <token>", "Authorization")
			return
		}
		p, ok := s.creds.LookupToken(c.Request.Context(), secret)
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="cdp", error="invalid_token"`)
			fail(c, http.StatusUnauthorized, CodeUnauthorized, "unknown or revoked API token", "Authorization")
			return
		}
		if !p.Role.Allows(need) {
			fail(c, http.StatusForbidden, CodeForbidden, fmt.Sprintf("role %s may not do this; it needs %s", p.Role, need), "")
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// requireRole checks the role of a caller already authenticated by
// requireToken on the group.
func requireRole(need Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if p := principal(c); !p.Role.Allows(need) {
			fail(c, http.StatusForbidden, CodeForbidden, fmt.Sprintf("role %s may not do this; it needs %s", p.Role, need), "")
		}
	}
}

func principal(c *gin.Context) Principal {
	p, _ := c.Get(principalKey)
	pr, _ := p.(Principal)
	return pr
}
