package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/store"
)

// Secure defaults of `serve`: it authenticates every request against the
// users and tokens of its database, and refuses to start when there is no
// user, unless --demo (which creates the user "demo") or
// --insecure-no-auth (loopback addresses only) says otherwise.

// demoUser is the user --demo creates.
const demoUser = "demo"

// credentialsFile is where --demo writes the demo user's name and password
// (one line, user:password, mode 0600): next to the database.
func credentialsFile(db string) string { return db + ".credentials" }

// serveAuth returns the verifier serve authenticates with (nil with
// --insecure-no-auth) or why serve must not start.
func serveAuth(ctx context.Context, c serveConfig, st *store.SQLite, addr net.Addr, stdout io.Writer, log *slog.Logger) (*auth.Verifier, error) {
	if c.insecureNoAuth {
		if !isLoopback(addr) {
			return nil, fmt.Errorf("--insecure-no-auth is refused on %s: it is only for loopback addresses (127.0.0.1, ::1); create a user instead (sdatasync user add)", addr)
		}
		log.Warn("AUTHENTICATION IS OFF (--insecure-no-auth): every request to this provider is an admin of every dataset; use it only on this machine", "addr", addr.String())
		return nil, nil
	}
	if c.demo {
		if err := demoCredentials(ctx, st, c.db, stdout); err != nil {
			return nil, err
		}
	}
	n, err := st.CountUsers(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("the database %s has no user, and serve does not run without authentication: create one with "+
			"sdatasync user add --db %s --role admin NAME (--password-stdin in scripts), or start with --demo "+
			"(a demo user with a random password), or with --insecure-no-auth on a loopback address", c.db, c.db)
	}
	return auth.NewVerifier(auth.VerifierConfig{Accounts: st, Log: log})
}

// isLoopback reports whether a listen address is a loopback address.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// demoCredentials makes sure the demo user exists with the password of
// the credentials file (a previous start's, or one a script wrote there
// before the first start: make demo gives its two providers the same),
// else a new random one; a new demo user is admin in every dataset. It
// prints how to use it.
func demoCredentials(ctx context.Context, st *store.SQLite, db string, stdout io.Writer) error {
	file := credentialsFile(db)
	pw := ""
	if b, err := os.ReadFile(file); err == nil {
		if u, p, ok := strings.Cut(strings.TrimSpace(string(b)), ":"); ok && u == demoUser {
			pw = p
		}
	}
	u, err := st.User(ctx, demoUser)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if pw == "" {
			pw = randomPassword()
		}
		if _, err := auth.AddUser(ctx, st, demoUser, pw, []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Admin}}); err != nil {
			return fmt.Errorf("creating the demo user: %w", err)
		}
	case err != nil:
		return err
	case pw == "" || !auth.CheckPassword(u.PasswordHash, pw):
		if pw == "" {
			pw = randomPassword()
		}
		if err := auth.SetPassword(ctx, st, demoUser, pw); err != nil {
			return fmt.Errorf("resetting the demo user's password: %w", err)
		}
	}
	if err := os.WriteFile(file, []byte(demoUser+":"+pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing the demo credentials: %w", err)
	}
	if err := os.Chmod(file, 0o600); err != nil { // an older file keeps its mode otherwise
		return err
	}
	fmt.Fprintf(stdout, "demo user: %s  password: %s  (admin of every dataset; also in %s, mode 0600)\n", demoUser, pw, file)
	return nil
}

// randomPassword is 128 random bits, in hex.
func randomPassword() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
