package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Users, their grants and API tokens: who may authenticate, and what they
// may do. The store keeps password hashes and token secret hashes as they
// are given (hashing is the verifier's, package sdata/auth); every change
// bumps the auth epoch in the same transaction, so that a verifier's cache
// of credentials knows when to forget what it verified.

// Grant is one role in one dataset ("*": every dataset), as stored.
type Grant struct {
	Dataset string `json:"dataset"`
	Role    string `json:"role"`
}

// User is a user account.
type User struct {
	ID           int64
	Name         string
	PasswordHash string // the encoded hash (PHC string), never the password
	Created      time.Time
	Disabled     bool
	Grants       []Grant
	Endpoints    []string // URL prefixes the user may speak for as a sync credential
}

// Token is an API token (bearer). Its secret is never stored: SecretHash
// is its SHA-256.
type Token struct {
	ID         int64
	PublicID   string // the id part of the token string, unique
	Name       string // unique
	User       string // the user it belongs to, "" for a token of no user
	Grants     []Grant
	Endpoints  []string // URL prefixes a sync credential may speak for
	Device     string   // the device a device token is bound to
	SecretHash []byte
	Created    time.Time
	Expires    time.Time // zero: never
	Revoked    time.Time // zero: not revoked
	LastUsed   time.Time // zero: never used
}

// Accounts is the store of users and tokens.
type Accounts interface {
	// AuthEpoch is a number that changes with every change of users,
	// grants or tokens (last use aside).
	AuthEpoch(ctx context.Context) (int64, error)
	// CreateUser adds a user; ErrConflict when the name is taken.
	CreateUser(ctx context.Context, u User) (User, error)
	// User returns a user by name with its grants; ErrNotFound.
	User(ctx context.Context, name string) (User, error)
	// Users lists the users by name.
	Users(ctx context.Context) ([]User, error)
	// CountUsers counts the users (disabled ones included).
	CountUsers(ctx context.Context) (int, error)
	// SetPassword replaces a user's password hash; ErrNotFound.
	SetPassword(ctx context.Context, name, hash string) error
	// SetGrants replaces a user's grants; ErrNotFound.
	SetGrants(ctx context.Context, name string, grants []Grant) error
	// SetEndpoints replaces the endpoint prefixes a user speaks for;
	// ErrNotFound.
	SetEndpoints(ctx context.Context, name string, endpoints []string) error
	// SetDisabled disables or enables a user; ErrNotFound.
	SetDisabled(ctx context.Context, name string, disabled bool) error
	// RemoveUser removes a user, its grants and its tokens; ErrNotFound.
	RemoveUser(ctx context.Context, name string) error
	// CreateToken adds a token (t.User must exist when set); ErrConflict
	// when its name or public id is taken, ErrNotFound for an unknown user.
	CreateToken(ctx context.Context, t Token) (Token, error)
	// TokenByPublicID returns a token by the id part of its string.
	TokenByPublicID(ctx context.Context, publicID string) (Token, error)
	// TokenByName returns a token by name.
	TokenByName(ctx context.Context, name string) (Token, error)
	// Tokens lists the tokens by name, revoked ones included.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken revokes a token by name at now; ErrNotFound.
	RevokeToken(ctx context.Context, name string, now time.Time) error
	// TouchTokens records when tokens were last used (by token id); it does
	// not change the auth epoch.
	TouchTokens(ctx context.Context, used map[int64]time.Time) error
}

var _ Accounts = (*SQLite)(nil)

// bumpEpoch advances the auth epoch in tx.
func bumpEpoch(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1`)
	return err
}

// AuthEpoch implements Accounts.
func (s *SQLite) AuthEpoch(ctx context.Context) (int64, error) {
	var e int64
	if err := s.r.QueryRowContext(ctx, `SELECT epoch FROM auth_epoch WHERE id = 1`).Scan(&e); err != nil {
		return 0, fmt.Errorf("store: auth epoch: %w", err)
	}
	return e, nil
}

// accountsWrite runs fn in a write transaction that bumps the auth epoch.
func (s *SQLite) accountsWrite(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return bumpEpoch(ctx, tx)
	})
}

// CreateUser implements Accounts.
func (s *SQLite) CreateUser(ctx context.Context, u User) (User, error) {
	u.Created = time.Now().UTC().Truncate(time.Millisecond)
	err := s.accountsWrite(ctx, func(tx *sql.Tx) error {
		eps, _ := json.Marshal(nonNil(u.Endpoints))
		res, err := tx.ExecContext(ctx, `INSERT INTO users (name, password_hash, created, disabled, endpoints) VALUES (?,?,?,?,?)`,
			u.Name, u.PasswordHash, fmtStamp(u.Created), u.Disabled, string(eps))
		if isUnique(err) {
			return fmt.Errorf("store: user %q exists already: %w", u.Name, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("store: create user: %w", err)
		}
		if u.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		return insertGrants(ctx, tx, u.ID, u.Grants)
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

func insertGrants(ctx context.Context, tx *sql.Tx, userID int64, grants []Grant) error {
	for _, g := range grants {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO user_grants (user_id, dataset, role) VALUES (?,?,?)`, userID, g.Dataset, g.Role); err != nil {
			return fmt.Errorf("store: grant: %w", err)
		}
	}
	return nil
}

// userID finds a user's id in tx; ErrNotFound.
func userID(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	return id, err
}

// User implements Accounts.
func (s *SQLite) User(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user: %w", err)
	}
	g, err := s.grantsOf(ctx, []int64{u.ID})
	if err != nil {
		return User{}, err
	}
	u.Grants = g[u.ID]
	return u, nil
}

const userCols = `id, name, password_hash, created, disabled, endpoints`

func scanUser(sc scanner) (User, error) {
	var u User
	var created, eps string
	if err := sc.Scan(&u.ID, &u.Name, &u.PasswordHash, &created, &u.Disabled, &eps); err != nil {
		return User{}, err
	}
	u.Created = parseStamp(created)
	if err := json.Unmarshal([]byte(eps), &u.Endpoints); err != nil {
		return User{}, fmt.Errorf("store: user %q endpoints: %w", u.Name, err)
	}
	return u, nil
}

// grantsOf reads the grants of users, by user id.
func (s *SQLite) grantsOf(ctx context.Context, ids []int64) (map[int64][]Grant, error) {
	out := map[int64][]Grant{}
	q := `SELECT user_id, dataset, role FROM user_grants ORDER BY user_id, dataset, role`
	var args []any
	if len(ids) == 1 {
		q = `SELECT user_id, dataset, role FROM user_grants WHERE user_id = ? ORDER BY dataset, role`
		args = append(args, ids[0])
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: grants: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var g Grant
		if err := rows.Scan(&id, &g.Dataset, &g.Role); err != nil {
			return nil, err
		}
		out[id] = append(out[id], g)
	}
	return out, rows.Err()
}

// Users implements Accounts.
func (s *SQLite) Users(ctx context.Context) ([]User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	g, err := s.grantsOf(ctx, nil)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Grants = g[out[i].ID]
	}
	return out, nil
}

// CountUsers implements Accounts.
func (s *SQLite) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count users: %w", err)
	}
	return n, nil
}

// SetPassword implements Accounts.
func (s *SQLite) SetPassword(ctx context.Context, name, hash string) error {
	return s.accountsWrite(ctx, func(tx *sql.Tx) error {
		return mustAffect(tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE name = ?`, hash, name))(name)
	})
}

// SetDisabled implements Accounts.
func (s *SQLite) SetDisabled(ctx context.Context, name string, disabled bool) error {
	return s.accountsWrite(ctx, func(tx *sql.Tx) error {
		return mustAffect(tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE name = ?`, disabled, name))(name)
	})
}

// SetGrants implements Accounts.
func (s *SQLite) SetGrants(ctx context.Context, name string, grants []Grant) error {
	return s.accountsWrite(ctx, func(tx *sql.Tx) error {
		id, err := userID(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_grants WHERE user_id = ?`, id); err != nil {
			return err
		}
		return insertGrants(ctx, tx, id, grants)
	})
}

// SetEndpoints implements Accounts.
func (s *SQLite) SetEndpoints(ctx context.Context, name string, endpoints []string) error {
	eps, _ := json.Marshal(nonNil(endpoints))
	return s.accountsWrite(ctx, func(tx *sql.Tx) error {
		return mustAffect(tx.ExecContext(ctx, `UPDATE users SET endpoints = ? WHERE name = ?`, string(eps), name))(name)
	})
}

// RemoveUser implements Accounts.
func (s *SQLite) RemoveUser(ctx context.Context, name string) error {
	return s.accountsWrite(ctx, func(tx *sql.Tx) error {
		return mustAffect(tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name))(name)
	})
}

// mustAffect turns an update of no row into ErrNotFound for the named
// account.
func mustAffect(res sql.Result, err error) func(name string) error {
	return func(name string) error {
		if err != nil {
			return fmt.Errorf("store: account %q: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: account %q: %w", name, ErrNotFound)
		}
		return nil
	}
}

// CreateToken implements Accounts.
func (s *SQLite) CreateToken(ctx context.Context, t Token) (Token, error) {
	t.Created = time.Now().UTC().Truncate(time.Millisecond)
	grants, _ := json.Marshal(nonNil(t.Grants))
	eps, _ := json.Marshal(nonNil(t.Endpoints))
	err := s.accountsWrite(ctx, func(tx *sql.Tx) error {
		var uid any
		if t.User != "" {
			id, err := userID(ctx, tx, t.User)
			if err != nil {
				return err
			}
			uid = id
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (public_id, name, user_id, grants, endpoints, device, secret_hash, created, expires)
			VALUES (?,?,?,?,?,?,?,?,?)`, t.PublicID, t.Name, uid, string(grants), string(eps), t.Device, t.SecretHash, fmtStamp(t.Created), optStamp(t.Expires))
		if isUnique(err) {
			return fmt.Errorf("store: token %q exists already: %w", t.Name, ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("store: create token: %w", err)
		}
		t.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// optStamp formats t, "" for the zero time.
func optStamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmtStamp(t)
}

func optParse(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	return parseStamp(s)
}

const tokenSelect = `SELECT t.id, t.public_id, t.name, coalesce(u.name, ''), t.grants, t.endpoints, t.device, t.secret_hash, t.created, t.expires, t.revoked, t.last_used
	FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id`

func scanToken(sc scanner) (Token, error) {
	var t Token
	var grants, eps, created, expires, revoked, used string
	if err := sc.Scan(&t.ID, &t.PublicID, &t.Name, &t.User, &grants, &eps, &t.Device, &t.SecretHash, &created, &expires, &revoked, &used); err != nil {
		return Token{}, err
	}
	if err := json.Unmarshal([]byte(grants), &t.Grants); err != nil {
		return Token{}, fmt.Errorf("store: token %q grants: %w", t.Name, err)
	}
	if err := json.Unmarshal([]byte(eps), &t.Endpoints); err != nil {
		return Token{}, fmt.Errorf("store: token %q endpoints: %w", t.Name, err)
	}
	t.Created, t.Expires, t.Revoked, t.LastUsed = parseStamp(created), optParse(expires), optParse(revoked), optParse(used)
	return t, nil
}

func (s *SQLite) tokenWhere(ctx context.Context, where string, arg any) (Token, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, tokenSelect+` WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("store: token: %w", ErrNotFound)
	}
	if err != nil {
		return Token{}, fmt.Errorf("store: token: %w", err)
	}
	return t, nil
}

// TokenByPublicID implements Accounts.
func (s *SQLite) TokenByPublicID(ctx context.Context, publicID string) (Token, error) {
	return s.tokenWhere(ctx, `t.public_id = ?`, publicID)
}

// TokenByName implements Accounts.
func (s *SQLite) TokenByName(ctx context.Context, name string) (Token, error) {
	return s.tokenWhere(ctx, `t.name = ?`, name)
}

// Tokens implements Accounts.
func (s *SQLite) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := s.r.QueryContext(ctx, tokenSelect+` ORDER BY t.name`)
	if err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken implements Accounts. Revoking a revoked token keeps the
// first revocation time.
func (s *SQLite) RevokeToken(ctx context.Context, name string, now time.Time) error {
	return s.accountsWrite(ctx, func(tx *sql.Tx) error {
		return mustAffect(tx.ExecContext(ctx, `UPDATE api_tokens SET revoked = CASE revoked WHEN '' THEN ? ELSE revoked END WHERE name = ?`,
			fmtStamp(now), name))(name)
	})
}

// TouchTokens implements Accounts.
func (s *SQLite) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		for id, at := range used {
			if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET last_used = max(last_used, ?) WHERE id = ?`, fmtStamp(at), id); err != nil {
				return fmt.Errorf("store: token last use: %w", err)
			}
		}
		return nil
	})
}
