package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/store"
)

const userUsage = `Usage: sdatasync user COMMAND [flags] NAME

  add NAME        create a user (--role, repeatable: role@dataset or role for every dataset;
                  --endpoint URL, repeatable: URL prefixes of the endpoints a sync user speaks for)
  list            list the users, their roles and endpoints
  remove NAME     remove a user and its tokens
  passwd NAME     change a user's password
  roles NAME      replace a user's roles (--role, repeatable; none: no role)
  endpoints NAME  replace the endpoints a sync user speaks for (--endpoint, repeatable; none: none)
  disable NAME    refuse the user's password and tokens; enable NAME undoes it

Passwords are read from the terminal (twice, without echo) or, with
--password-stdin, from the first line of standard input; never from the
command line. Roles: reader, writer, sync, auditor, admin, device.
Every command works on --db (default data/sdatasync.db, or SDATASYNC_DB).

`

const tokenUsage = `Usage: sdatasync token COMMAND [flags]

  create NAME   create an API token and print it (once: only its hash is kept)
                --user U        the token acts as user U, with at most U's roles
                --role R        role@dataset or role (repeatable; a user's token: none = all of U's)
                --endpoint URL  a URL prefix of endpoints a sync credential may speak for (repeatable)
                --device ID     bind the token to a device (device role)
                --expires D     a duration (720h) or an RFC 3339 time; default: never
  list          list the tokens (never their secrets)
  revoke NAME   revoke a token; it is refused from the next request on

Every command works on --db (default data/sdatasync.db, or SDATASYNC_DB).

`

// accountsFlags are the flags of the user and token commands.
type accountsFlags struct {
	db, user, device, expires string
	roles, endpoints          stringList
	passwordStdin, json       bool
}

// parseAccounts parses flags given before or after the one name argument.
func parseAccounts(name string, args []string, stderr io.Writer, usage string) (*accountsFlags, []string, int) {
	var f accountsFlags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&f.db, "db", "data/sdatasync.db", "SQLite database file")
	fs.Var(&f.roles, "role", "role@dataset or role (every dataset); repeatable")
	fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	fs.BoolVar(&f.json, "json", false, "list as JSON")
	fs.StringVar(&f.user, "user", "", "token create: the user the token acts as")
	fs.Var(&f.endpoints, "endpoint", "URL prefix of endpoints the user or token may speak for as a sync credential; repeatable")
	fs.StringVar(&f.device, "device", "", "token create: the device the token is bound to")
	fs.StringVar(&f.expires, "expires", "", "token create: a duration (720h) or an RFC 3339 time")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, 0
			}
			return nil, nil, 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if err := envDefaults(fs); err != nil {
		fmt.Fprintln(stderr, "sdatasync:", err)
		return nil, nil, 2
	}
	return &f, pos, -1
}

// openAccounts opens the database of a user or token command (creating it
// and its schema when needed, so that a fresh deployment can be
// bootstrapped before the first serve).
func openAccounts(ctx context.Context, db string) (*store.SQLite, error) {
	return store.OpenSQLite(ctx, db)
}

func grantsOf(roles []string) ([]auth.Grant, error) {
	var out []auth.Grant
	for _, r := range roles {
		g, err := auth.ParseGrant(r)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// accountsArgs reads the common part of `sdatasync user|token CMD ...`:
// the subcommand, its flags, its one name argument (none for list) and the
// grants of its --role flags. code is the exit status to return at once,
// or -1 to go on.
func accountsArgs(name, usage string, args []string, stderr io.Writer) (cmd string, f *accountsFlags, pos []string, grants []auth.Grant, code int) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		return "", nil, nil, nil, 2
	}
	cmd = args[0]
	f, pos, code = parseAccounts(name+" "+cmd, args[1:], stderr, usage)
	if code >= 0 {
		return "", nil, nil, nil, code
	}
	wantArgs := 1
	if cmd == "list" {
		wantArgs = 0
	}
	if len(pos) != wantArgs {
		fmt.Fprintf(stderr, "sdatasync %s %s: want %d name argument(s), got %d\n\n%s", name, cmd, wantArgs, len(pos), usage)
		return "", nil, nil, nil, 2
	}
	grants, err := grantsOf(f.roles)
	if err != nil {
		fmt.Fprintln(stderr, "sdatasync "+name+":", err)
		return "", nil, nil, nil, 2
	}
	return cmd, f, pos, grants, -1
}

// userCmd runs `sdatasync user ...`.
func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, f, pos, grants, code := accountsArgs("user", userUsage, args, stderr)
	if code >= 0 {
		return code
	}
	var err error
	st, err := openAccounts(ctx, f.db)
	if err != nil {
		fmt.Fprintln(stderr, "sdatasync user:", err)
		return 1
	}
	defer st.Close()
	err = func() error {
		switch cmd {
		case "add":
			pw, err := readPassword(stdin, stderr, f.passwordStdin)
			if err != nil {
				return err
			}
			if _, err := auth.AddUser(ctx, st, pos[0], pw, grants, f.endpoints...); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user %s added with roles %s\n", pos[0], grantList(grants))
		case "passwd":
			if _, err := st.User(ctx, pos[0]); err != nil {
				return err
			}
			pw, err := readPassword(stdin, stderr, f.passwordStdin)
			if err != nil {
				return err
			}
			if err := auth.SetPassword(ctx, st, pos[0], pw); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "password of %s changed\n", pos[0])
		case "roles":
			if err := st.SetGrants(ctx, pos[0], auth.StoreGrants(grants)); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "roles of %s: %s\n", pos[0], grantList(grants))
		case "endpoints":
			if err := auth.CheckEndpoints(f.endpoints); err != nil {
				return err
			}
			if err := st.SetEndpoints(ctx, pos[0], f.endpoints); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s speaks for: %s\n", pos[0], orDash(strings.Join(f.endpoints, ",")))
		case "remove":
			if err := st.RemoveUser(ctx, pos[0]); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user %s removed (with its tokens)\n", pos[0])
		case "disable", "enable":
			if err := st.SetDisabled(ctx, pos[0], cmd == "disable"); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user %s %sd\n", pos[0], cmd)
		case "list":
			us, err := st.Users(ctx)
			if err != nil {
				return err
			}
			return listUsers(stdout, us, f.json)
		default:
			return fmt.Errorf("unknown command %q\n\n%s", cmd, userUsage)
		}
		return nil
	}()
	if err != nil {
		fmt.Fprintln(stderr, "sdatasync user "+cmd+":", accountError(err))
		return 1
	}
	return 0
}

// accountError words a store error for the command line.
func accountError(err error) string {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "no such user or token"
	case errors.Is(err, store.ErrConflict):
		return "the name is taken"
	}
	return err.Error()
}

func grantList(gs []auth.Grant) string {
	if len(gs) == 0 {
		return "(none)"
	}
	var out []string
	for _, g := range gs {
		out = append(out, g.String())
	}
	return strings.Join(out, ",")
}

func storeGrantList(gs []store.Grant) string {
	var out []auth.Grant
	for _, g := range gs {
		out = append(out, auth.Grant{Dataset: g.Dataset, Role: auth.Role(g.Role)})
	}
	return grantList(out)
}

// userJSON is a user as `user list --json` prints it (no hash).
type userJSON struct {
	Name      string        `json:"name"`
	Roles     []store.Grant `json:"roles"`
	Endpoints []string      `json:"endpoints,omitempty"`
	Created   time.Time     `json:"created"`
	Disabled  bool          `json:"disabled"`
}

func listUsers(w io.Writer, us []store.User, asJSON bool) error {
	if asJSON {
		out := []userJSON{}
		for _, u := range us {
			out = append(out, userJSON{Name: u.Name, Roles: nonNilGrants(u.Grants), Endpoints: u.Endpoints, Created: u.Created, Disabled: u.Disabled})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLES\tENDPOINTS\tCREATED\tDISABLED")
	for _, u := range us {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", u.Name, storeGrantList(u.Grants), orDash(strings.Join(u.Endpoints, ",")), u.Created.Format(time.RFC3339), u.Disabled)
	}
	return tw.Flush()
}

func nonNilGrants(gs []store.Grant) []store.Grant {
	if gs == nil {
		return []store.Grant{}
	}
	return gs
}

// readPassword reads a new password: the first line of stdin with
// --password-stdin, else from the terminal twice without echo.
func readPassword(stdin io.Reader, stderr io.Writer, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", errors.New("no password on standard input")
		}
		return line, nil
	}
	fd := int(os.Stdin.Fd())
	if f, ok := stdin.(*os.File); !ok || f != os.Stdin || !term.IsTerminal(fd) {
		return "", errors.New("standard input is not a terminal: give the password with --password-stdin")
	}
	fmt.Fprint(stderr, "password: ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(stderr, "again: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", err
	}
	if string(a) != string(b) {
		return "", errors.New("the passwords differ")
	}
	return string(a), nil
}

// tokenCmd runs `sdatasync token ...`.
func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, f, pos, grants, code := accountsArgs("token", tokenUsage, args, stderr)
	if code >= 0 {
		return code
	}
	var err error
	var expires time.Time
	if f.expires != "" {
		if expires, err = parseExpiry(f.expires, time.Now()); err != nil {
			fmt.Fprintln(stderr, "sdatasync token: --expires:", err)
			return 2
		}
	}
	st, err := openAccounts(ctx, f.db)
	if err != nil {
		fmt.Fprintln(stderr, "sdatasync token:", err)
		return 1
	}
	defer st.Close()
	err = func() error {
		switch cmd {
		case "create":
			t, tok, err := auth.IssueToken(ctx, st, auth.TokenSpec{Name: pos[0], User: f.user, Grants: grants, Endpoints: f.endpoints,
				Device: f.device, Expires: expires}, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, tok)
			fmt.Fprintf(stderr, "token %s created (shown once: only its hash is kept)%s\n", t.Name, expiryNote(t.Expires))
		case "revoke":
			if err := st.RevokeToken(ctx, pos[0], time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "token %s revoked\n", pos[0])
		case "list":
			ts, err := st.Tokens(ctx)
			if err != nil {
				return err
			}
			return listTokens(stdout, ts, f.json)
		default:
			return fmt.Errorf("unknown command %q\n\n%s", cmd, tokenUsage)
		}
		return nil
	}()
	if err != nil {
		fmt.Fprintln(stderr, "sdatasync token "+cmd+":", accountError(err))
		return 1
	}
	return 0
}

func expiryNote(t time.Time) string {
	if t.IsZero() {
		return ", never expires"
	}
	return ", expires " + t.Format(time.RFC3339)
}

// parseExpiry reads --expires: a duration from now or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, errors.New("a duration must be positive")
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (720h) nor an RFC 3339 time", s)
	}
	return t, nil
}

// tokenJSON is a token as `token list --json` shows it:
// never its secret or hash.
type tokenJSON struct {
	Name      string        `json:"name"`
	User      string        `json:"user,omitempty"`
	Roles     []store.Grant `json:"roles"`
	Endpoints []string      `json:"endpoints,omitempty"`
	Device    string        `json:"device,omitempty"`
	Created   time.Time     `json:"created"`
	Expires   *time.Time    `json:"expires,omitempty"`
	Revoked   *time.Time    `json:"revoked,omitempty"`
	LastUsed  *time.Time    `json:"lastUsed,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func listTokens(w io.Writer, ts []store.Token, asJSON bool) error {
	if asJSON {
		out := []tokenJSON{}
		for _, t := range ts {
			out = append(out, tokenJSON{Name: t.Name, User: t.User, Roles: nonNilGrants(t.Grants), Endpoints: t.Endpoints, Device: t.Device,
				Created: t.Created, Expires: optTime(t.Expires), Revoked: optTime(t.Revoked), LastUsed: optTime(t.LastUsed)})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tUSER\tROLES\tENDPOINTS\tDEVICE\tEXPIRES\tREVOKED\tLAST USED")
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, orDash(t.User), storeGrantList(t.Grants), orDash(strings.Join(t.Endpoints, ",")),
			orDash(t.Device), stamp(t.Expires), stamp(t.Revoked), stamp(t.LastUsed))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
