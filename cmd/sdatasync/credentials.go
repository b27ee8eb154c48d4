package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"sdatasync/sdata/client"
)

// Credentials of the engine and of the pusher: user names come from flags
// (or their SDATASYNC_* variables), passwords and tokens from environment
// variables or a credentials file, never from the command line, where `ps`
// would show them.
//
// A credentials file holds `key = value` lines; blank lines and lines
// starting with # are ignored; the value is the rest of the line after the
// first =, without surrounding blanks. Keys are user, password and token,
// alone or after a side: source.user, target.token, registry.password...
// Every key at most once. The file must be readable by its owner only
// (mode 0600 or 0400).

// maxCredentialsFile bounds the size of a credentials file.
const maxCredentialsFile = 64 << 10

// credFields are the fields a credentials file may give.
var credFields = []string{"user", "password", "token"}

// credFile is a parsed credentials file: value by key ("source.user",
// "token"...).
type credFile map[string]string

// parseCredentials reads a credentials file whose keys may name the given
// sides ("" for keys without a side). Errors name the line number and
// the key when it is a known one, and never quote the line: it may hold a
// secret.
func parseCredentials(b []byte, sides []string) (credFile, error) {
	if len(b) > maxCredentialsFile {
		return nil, fmt.Errorf("more than %d bytes", maxCredentialsFile)
	}
	if !utf8.Valid(b) {
		return nil, errors.New("not UTF-8 text")
	}
	out := credFile{}
	for i, line := range bytes.Split(b, []byte("\n")) {
		n := i + 1
		s := strings.TrimSpace(strings.TrimSuffix(string(line), "\r"))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: not a key = value line", n)
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !knownKey(k, sides) {
			return nil, fmt.Errorf("line %d: unknown key (known keys: %s)", n, strings.Join(knownKeys(sides), ", "))
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("line %d: %s given twice", n, k)
		}
		if v == "" {
			return nil, fmt.Errorf("line %d: %s has an empty value", n, k)
		}
		if strings.ContainsFunc(v, unicode.IsControl) {
			return nil, fmt.Errorf("line %d: the value of %s holds a control character", n, k)
		}
		if strings.HasSuffix(k, "user") && strings.Contains(v, ":") {
			return nil, fmt.Errorf("line %d: the value of %s holds a colon, which HTTP Basic does not allow in a user name", n, k)
		}
		out[k] = v
	}
	return out, nil
}

func knownKey(k string, sides []string) bool { return slices.Contains(knownKeys(sides), k) }

// knownKeys lists the keys a file for these sides may hold.
func knownKeys(sides []string) []string {
	var out []string
	for _, s := range sides {
		for _, f := range credFields {
			if s == "" {
				out = append(out, f)
			} else {
				out = append(out, s+"."+f)
			}
		}
	}
	return out
}

// readCredentialsFile reads and parses the credentials file at path, after
// checking that it is a regular file only its owner may read or write.
func readCredentialsFile(path string, sides []string) (credFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat() // the file opened, not whatever the path names now
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("credentials file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("credentials file %s may be read or written by others (mode %04o): refused; chmod 600 it", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCredentialsFile+1))
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	cf, err := parseCredentials(b, sides)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	return cf, nil
}

// credLevel is one place credentials may come from, in the order they are
// looked at: the first level with a password or a token gives the secret,
// the first with a user the user name.
type credLevel struct {
	where                 string // for messages: "SDATASYNC_SOURCE_*", "the credentials file"...
	user, password, token string
}

// resolveCredentials picks the credentials of one side from its levels.
// A level with both a password and a token, a password without a user and
// a user without a secret are errors; no user and no secret anywhere is no
// credentials.
func resolveCredentials(side string, levels []credLevel) (client.Credentials, error) {
	var c client.Credentials
	secretFound := false
	for _, l := range levels {
		if c.User == "" {
			c.User = l.user
		}
		if secretFound || (l.password == "" && l.token == "") {
			continue
		}
		if l.password != "" && l.token != "" {
			return client.Credentials{}, fmt.Errorf("%s gives the %s both a password and a token: keep one", l.where, side)
		}
		c.Password, c.Token, secretFound = l.password, l.token, true
	}
	switch {
	case c.Password != "" && c.User == "":
		return client.Credentials{}, fmt.Errorf("a password for the %s but no user name", side)
	case c.User != "" && !secretFound:
		return client.Credentials{}, fmt.Errorf("a user name for the %s but no password or token", side)
	}
	return c, nil
}

// envLevel is the credential level of the SDATASYNC_{PREFIX}PASSWORD and
// _TOKEN variables (prefix "SOURCE_", or "" for the common ones).
func envLevel(getenv func(string) string, prefix, user string) credLevel {
	return credLevel{where: "SDATASYNC_" + prefix + "PASSWORD/TOKEN", user: user,
		password: getenv("SDATASYNC_" + prefix + "PASSWORD"), token: getenv("SDATASYNC_" + prefix + "TOKEN")}
}

// fileLevel is the credential level of a file's keys for side ("" for the
// keys without a side).
func fileLevel(cf credFile, side string) credLevel {
	p := ""
	if side != "" {
		p = side + "."
	}
	return credLevel{where: "the credentials file", user: cf[p+"user"], password: cf[p+"password"], token: cf[p+"token"]}
}

// passCredentials resolves the credentials of the source, the target and
// the registry of a pass. For the source and the target, in order: the
// side's own flag and variables (--source-user, SDATASYNC_SOURCE_PASSWORD,
// SDATASYNC_SOURCE_TOKEN), the side's keys of the file (source.*), then
// what holds for both (--user, SDATASYNC_PASSWORD, SDATASYNC_TOKEN, the
// file's keys without a side). The registry only has its own.
func passCredentials(c passConfig, getenv func(string) string) (src, tgt, reg client.Credentials, err error) {
	var cf credFile
	if c.credentials != "" {
		if cf, err = readCredentialsFile(c.credentials, []string{"", "source", "target", "registry"}); err != nil {
			return src, tgt, reg, err
		}
	}
	side := func(name, flagUser string) (client.Credentials, error) {
		up := strings.ToUpper(name) + "_"
		return resolveCredentials(name, []credLevel{
			envLevel(getenv, up, flagUser), fileLevel(cf, name),
			envLevel(getenv, "", c.user), fileLevel(cf, ""),
		})
	}
	if src, err = side("source", c.sourceUser); err != nil {
		return
	}
	if tgt, err = side("target", c.targetUser); err != nil {
		return
	}
	reg, err = resolveCredentials("registry", []credLevel{envLevel(getenv, "REGISTRY_", c.registryUser), fileLevel(cf, "registry")})
	return
}

// pushCredentials resolves the credentials of `serve --push-to`:
// --push-user, SDATASYNC_PUSH_PASSWORD or SDATASYNC_PUSH_TOKEN, then the
// file of --push-credentials (keys user, password, token).
func pushCredentials(user, file string, getenv func(string) string) (client.Credentials, error) {
	var cf credFile
	if file != "" {
		var err error
		if cf, err = readCredentialsFile(file, []string{""}); err != nil {
			return client.Credentials{}, err
		}
	}
	return resolveCredentials("push targets", []credLevel{envLevel(getenv, "PUSH_", user), fileLevel(cf, "")})
}

// refuseSecretFlags reports the flags a secret must not be given by (they
// would show in `ps`): --password and the like.
func refuseSecretFlags(args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			continue
		}
		if name == "password" || name == "token" || strings.HasSuffix(name, "-password") || strings.HasSuffix(name, "-token") {
			return fmt.Errorf("--%s: passwords and tokens are not taken from the command line (ps shows it to every user): use the SDATASYNC_*PASSWORD / SDATASYNC_*TOKEN variables or a credentials file", name)
		}
	}
	return nil
}
