// Package admin is the admin API of users and API tokens, under
// /sdata/$system/admin/-/users and /sdata/$system/admin/-/tokens: list,
// create (a token's secret is in the answer once), change (a user's roles,
// endpoints, password, disabled), revoke or remove. It speaks JSON
// (application/json); errors are sdata:diagnoses like everywhere else. The
// route table lets admins in; these handlers also require the admin role
// in every dataset (an admin of one dataset cannot make itself an admin of
// all). Passwords and token secrets are never in an answer (but the new
// token's, once), a log line or an audit record.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"
)

// Path is the base path of the admin API.
const Path = "/sdata/$system/admin/-"

// maxBody bounds an admin request body.
const maxBody = 64 << 10

// Service serves the admin API.
type Service struct {
	st    store.Accounts
	audit func(ctx context.Context, recs ...store.AuditRecord)
}

// New returns the admin API over a store; audit records every change.
func New(st store.Accounts, audit func(ctx context.Context, recs ...store.AuditRecord)) *Service {
	return &Service{st: st, audit: audit}
}

// User is a user as the API shows it.
type User struct {
	Name      string     `json:"name"`
	Roles     []string   `json:"roles"`
	Endpoints []string   `json:"endpoints"`
	Disabled  bool       `json:"disabled"`
	Created   *time.Time `json:"created,omitempty"`
}

// Token is a token as the API shows it; Token (the whole string) only in
// the answer to its creation.
type Token struct {
	Name      string     `json:"name"`
	User      string     `json:"user,omitempty"`
	Roles     []string   `json:"roles"`
	Endpoints []string   `json:"endpoints"`
	Device    string     `json:"device,omitempty"`
	Created   *time.Time `json:"created,omitempty"`
	Expires   *time.Time `json:"expires,omitempty"`
	Revoked   *time.Time `json:"revoked,omitempty"`
	LastUsed  *time.Time `json:"lastUsed,omitempty"`
	Token     string     `json:"token,omitempty"`
}

// userIn is the body of a user creation or change; absent fields do not
// change.
type userIn struct {
	Name      string    `json:"name"`
	Password  *string   `json:"password"`
	Roles     *[]string `json:"roles"`
	Endpoints *[]string `json:"endpoints"`
	Disabled  *bool     `json:"disabled"`
}

// tokenIn is the body of a token creation.
type tokenIn struct {
	Name      string    `json:"name"`
	User      string    `json:"user"`
	Roles     []string  `json:"roles"`
	Endpoints []string  `json:"endpoints"`
	Device    string    `json:"device"`
	Expires   time.Time `json:"expires"`
	// ExpiresIn is a Go duration (720h), another way to say Expires.
	ExpiresIn string `json:"expiresIn"`
}

// admin refuses a principal that is not an admin of every dataset.
func admin(r *http.Request) error {
	if p := auth.From(r.Context()); !p.IsAdmin() {
		return diag.New(diag.Forbidden, "managing users and tokens needs the admin role in every dataset (admin@*)")
	}
	return nil
}

// readJSON decodes a JSON request body into v, strictly.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return diag.New(diag.UnsupportedMediaType, "unsupported media type %q: the admin API takes application/json", ct)
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return diag.New(diag.TooLarge, "request body over the limit of %d bytes", maxBody)
		}
		return diag.New(diag.BadRequest, "the body is not the JSON object expected: %s", jsonProblem(err))
	}
	if dec.More() {
		return diag.New(diag.BadRequest, "the body holds more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return diag.New(diag.BadRequest, "the body holds more than one JSON value")
	}
	return nil
}

// jsonProblem says what is wrong with a body without quoting it (it may
// hold a password).
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "malformed JSON"
	case errors.As(err, &te):
		return "field " + te.Field + " has the wrong type"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated body"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON"
}

func writeJSON(w http.ResponseWriter, status int, v any) error { return wire.WriteJSON(w, status, v) }

// accountErr maps the errors of the account store and checks.
func accountErr(err error, what, name string) error {
	switch {
	case errors.Is(err, auth.ErrInvalid):
		return diag.New(diag.BadRequest, "%s", strings.TrimPrefix(err.Error(), auth.ErrInvalid.Error()+": "))
	case errors.Is(err, store.ErrNotFound):
		return diag.New(diag.NoResource, "no %s %q", what, name)
	case errors.Is(err, store.ErrConflict):
		return diag.New(diag.Conflict, "a %s named %q exists already", what, name)
	}
	return err
}

func parseGrants(roles []string) ([]auth.Grant, error) {
	var out []auth.Grant
	for _, r := range roles {
		g, err := auth.ParseGrant(r)
		if err != nil {
			return nil, diag.New(diag.BadRequest, "%v", err)
		}
		out = append(out, g)
	}
	return out, nil
}

func rolesOf(gs []store.Grant) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.Role+"@"+g.Dataset)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func userOut(u store.User) User {
	return User{Name: u.Name, Roles: rolesOf(u.Grants), Endpoints: nonNil(u.Endpoints), Disabled: u.Disabled, Created: optTime(u.Created)}
}

func tokenOut(t store.Token) Token {
	return Token{Name: t.Name, User: t.User, Roles: rolesOf(t.Grants), Endpoints: nonNil(t.Endpoints), Device: t.Device,
		Created: optTime(t.Created), Expires: optTime(t.Expires), Revoked: optTime(t.Revoked), LastUsed: optTime(t.LastUsed)}
}

// record audits a change made through the API (never its secrets).
func (s *Service) record(r *http.Request, op, name string, status int) {
	detail, _ := json.Marshal(map[string]string{"name": name})
	s.audit(r.Context(), store.AuditRecord{Operation: op, Client: r.RemoteAddr, Status: status, Detail: string(detail)})
}

// Users serves GET (list) and POST (create) on users.
func (s *Service) Users() site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		if err := admin(r); err != nil {
			return err
		}
		if r.Method != http.MethodPost {
			us, err := s.st.Users(r.Context())
			if err != nil {
				return err
			}
			out := []User{}
			for _, u := range us {
				out = append(out, userOut(u))
			}
			return writeJSON(w, http.StatusOK, out)
		}
		var in userIn
		if err := readJSON(w, r, &in); err != nil {
			return err
		}
		if in.Password == nil || in.Disabled != nil {
			return diag.New(diag.BadRequest, "a new user has a name, a password, roles and endpoints (disabled is set by a change)")
		}
		var grants []auth.Grant
		var eps []string
		if in.Roles != nil {
			var err error
			if grants, err = parseGrants(*in.Roles); err != nil {
				return err
			}
		}
		if in.Endpoints != nil {
			eps = *in.Endpoints
		}
		u, err := auth.AddUser(r.Context(), s.st, in.Name, *in.Password, grants, eps...)
		if err != nil {
			return accountErr(err, "user", in.Name)
		}
		s.record(r, "admin.user.add", u.Name, http.StatusCreated)
		w.Header().Set("Location", "/sdata/$system/admin/-/users('"+u.Name+"')")
		return writeJSON(w, http.StatusCreated, userOut(u))
	}
}

// User serves GET, PUT (change) and DELETE (remove) on one user.
func (s *Service) User() site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		if err := admin(r); err != nil {
			return err
		}
		ctx, name := r.Context(), t.ID
		switch r.Method {
		case http.MethodDelete:
			if err := s.st.RemoveUser(ctx, name); err != nil {
				return accountErr(err, "user", name)
			}
			s.record(r, "admin.user.remove", name, http.StatusOK)
			w.WriteHeader(http.StatusOK)
			return nil
		case http.MethodPut:
			var in userIn
			if err := readJSON(w, r, &in); err != nil {
				return err
			}
			if in.Name != "" && in.Name != name {
				return diag.New(diag.BadRequest, "a user cannot be renamed (the body names %q)", in.Name)
			}
			if err := s.change(ctx, name, in); err != nil {
				return accountErr(err, "user", name)
			}
			s.record(r, "admin.user.change", name, http.StatusOK)
		}
		u, err := s.st.User(ctx, name)
		if err != nil {
			return accountErr(err, "user", name)
		}
		return writeJSON(w, http.StatusOK, userOut(u))
	}
}

// change applies a user change: everything is checked before anything is
// stored.
func (s *Service) change(ctx context.Context, name string, in userIn) error {
	if _, err := s.st.User(ctx, name); err != nil {
		return err
	}
	var grants []auth.Grant
	if in.Roles != nil {
		var err error
		if grants, err = parseGrants(*in.Roles); err != nil {
			return err
		}
	}
	if in.Endpoints != nil {
		if err := auth.CheckEndpoints(*in.Endpoints); err != nil {
			return err
		}
	}
	if in.Password != nil {
		if err := auth.CheckNewPassword(*in.Password); err != nil {
			return err
		}
		if err := auth.SetPassword(ctx, s.st, name, *in.Password); err != nil {
			return err
		}
	}
	if in.Roles != nil {
		if err := s.st.SetGrants(ctx, name, auth.StoreGrants(grants)); err != nil {
			return err
		}
	}
	if in.Endpoints != nil {
		if err := s.st.SetEndpoints(ctx, name, *in.Endpoints); err != nil {
			return err
		}
	}
	if in.Disabled != nil {
		return s.st.SetDisabled(ctx, name, *in.Disabled)
	}
	return nil
}

// Tokens serves GET (list) and POST (create) on tokens.
func (s *Service) Tokens() site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		if err := admin(r); err != nil {
			return err
		}
		if r.Method != http.MethodPost {
			ts, err := s.st.Tokens(r.Context())
			if err != nil {
				return err
			}
			out := []Token{}
			for _, t := range ts {
				out = append(out, tokenOut(t))
			}
			return writeJSON(w, http.StatusOK, out)
		}
		var in tokenIn
		if err := readJSON(w, r, &in); err != nil {
			return err
		}
		grants, err := parseGrants(in.Roles)
		if err != nil {
			return err
		}
		now := time.Now()
		if in.ExpiresIn != "" {
			d, err := time.ParseDuration(in.ExpiresIn)
			if err != nil || d <= 0 || !in.Expires.IsZero() {
				return diag.New(diag.BadRequest, "expiresIn is a positive duration (720h), and goes without expires")
			}
			in.Expires = now.Add(d)
		}
		if in.User != "" {
			if _, err := s.st.User(r.Context(), in.User); err != nil {
				return accountErr(err, "user", in.User)
			}
		}
		tk, tok, err := auth.IssueToken(r.Context(), s.st, auth.TokenSpec{Name: in.Name, User: in.User, Grants: grants, Endpoints: in.Endpoints,
			Device: in.Device, Expires: in.Expires}, now)
		if err != nil {
			return accountErr(err, "token", in.Name)
		}
		s.record(r, "admin.token.create", tk.Name, http.StatusCreated)
		out := tokenOut(tk)
		out.Token = tok
		w.Header().Set("Location", "/sdata/$system/admin/-/tokens('"+tk.Name+"')")
		w.Header().Set("Cache-Control", "no-store")
		return writeJSON(w, http.StatusCreated, out)
	}
}

// Token serves GET and DELETE (revoke) on one token.
func (s *Service) Token() site.Handler {
	return func(w http.ResponseWriter, r *http.Request, t site.Target) error {
		if err := admin(r); err != nil {
			return err
		}
		if r.Method == http.MethodDelete {
			if err := s.st.RevokeToken(r.Context(), t.ID, time.Now()); err != nil {
				return accountErr(err, "token", t.ID)
			}
			s.record(r, "admin.token.revoke", t.ID, http.StatusOK)
		}
		tk, err := s.st.TokenByName(r.Context(), t.ID)
		if err != nil {
			return accountErr(err, "token", t.ID)
		}
		return writeJSON(w, http.StatusOK, tokenOut(tk))
	}
}
