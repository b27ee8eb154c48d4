package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sdatasync/sdata/client"
)

var passSides = []string{"", "source", "target", "registry"}

// TestParseCredentials is table-driven: what a file gives, and how it is
// refused, by line number, without quoting the line.
func TestParseCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     credFile
		err      string // a substring of the error; "" for none
	}{
		{"empty", "", credFile{}, ""},
		{"comments and blanks", "# a comment\n\n   \n  # indented comment\n", credFile{}, ""},
		{"sides", "source.user = ann\nsource.password = p=w d#1 \ntarget.token=tok\nregistry.user=r\nregistry.password= rp\n",
			credFile{"source.user": "ann", "source.password": "p=w d#1", "target.token": "tok", "registry.user": "r", "registry.password": "rp"}, ""},
		{"common keys, CRLF, upper-case key", "User = ann\r\npassword = s3cret\r\n", credFile{"user": "ann", "password": "s3cret"}, ""},
		{"no equals", "source.user = ann\nhunter2\n", nil, "line 2: not a key = value line"},
		{"unknown key", "\n\nsource.pasword = hunter2\n", nil, "line 3: unknown key"},
		{"unknown side", "erp.user = ann\n", nil, "line 1: unknown key"},
		{"twice", "token = a\ntoken = b\n", nil, "line 2: token given twice"},
		{"empty value", "source.user =\n", nil, "line 1: source.user has an empty value"},
		{"control character", "password = a\x01b\n", nil, "line 1: the value of password holds a control character"},
		{"colon in a user", "user = a:b\n", nil, "line 1: the value of user holds a colon"},
		{"not UTF-8", "password = \xff\xfe\n", nil, "not UTF-8"},
		{"too big", strings.Repeat("#", maxCredentialsFile+1), nil, "more than"},
	} {
		got, err := parseCredentials([]byte(tc.in), passSides)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && !equalCred(got, tc.want):
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		if err != nil {
			for _, secret := range []string{"hunter2", "s3cret", "a:b", "pasword", "erp"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("%s: the error quotes the file: %v", tc.name, err)
				}
			}
		}
	}
	// A file for the push targets knows the keys without a side only.
	if _, err := parseCredentials([]byte("source.user = ann\n"), []string{""}); err == nil {
		t.Error("source.user accepted in a push credentials file")
	}
}

func equalCred(a, b credFile) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestResolveCredentials is table-driven over the levels: the first level
// with a secret gives it, the first with a user the user name.
func TestResolveCredentials(t *testing.T) {
	lv := func(user, pw, tok string) credLevel {
		return credLevel{where: "x", user: user, password: pw, token: tok}
	}
	for _, tc := range []struct {
		name   string
		levels []credLevel
		want   client.Credentials
		err    string
	}{
		{"nothing", []credLevel{lv("", "", ""), lv("", "", "")}, client.Credentials{}, ""},
		{"basic", []credLevel{lv("ann", "pw-S3CR3T", "")}, client.Credentials{User: "ann", Password: "pw-S3CR3T"}, ""},
		{"user from a later level", []credLevel{lv("", "pw-S3CR3T", ""), lv("ann", "", "")}, client.Credentials{User: "ann", Password: "pw-S3CR3T"}, ""},
		{"own secret beats the common one", []credLevel{lv("ann", "", "tok-S3CR3T"), lv("bob", "common", "")}, client.Credentials{User: "ann", Token: "tok-S3CR3T"}, ""},
		{"own user beats the common one", []credLevel{lv("ann", "", ""), lv("bob", "common", "")}, client.Credentials{User: "ann", Password: "common"}, ""},
		{"token without user", []credLevel{lv("", "", "tok-S3CR3T")}, client.Credentials{Token: "tok-S3CR3T"}, ""},
		{"both at one level", []credLevel{lv("ann", "pw-S3CR3T", "tok-S3CR3T")}, client.Credentials{}, "both a password and a token"},
		{"password without user", []credLevel{lv("", "pw-S3CR3T", "")}, client.Credentials{}, "no user name"},
		{"user without secret", []credLevel{lv("ann", "", "")}, client.Credentials{}, "no password or token"},
	} {
		got, err := resolveCredentials("source", tc.levels)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) || got != tc.want {
			t.Errorf("%s: %v, %v; want %v, %q", tc.name, got, err, tc.want, tc.err)
		}
		if err != nil && (strings.Contains(err.Error(), "S3CR3T")) {
			t.Errorf("%s: the error shows a secret: %v", tc.name, err)
		}
	}
}

// TestPassCredentialsPerSide: environment variables, the file and the
// flags combine per side; the registry has only its own.
func TestPassCredentialsPerSide(t *testing.T) {
	dir := t.TempDir()
	file := writeCredFile(t, dir, "c", "source.user = ann\nsource.password = file-pw\ntoken = common-file-tok\nregistry.token = reg-tok\n", 0o600)
	env := map[string]string{"SDATASYNC_TARGET_TOKEN": "env-tgt-tok", "SDATASYNC_PASSWORD": "common-env-pw"}
	src, tgt, reg, err := passCredentials(passConfig{credentials: file, user: "bob"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if src != (client.Credentials{User: "ann", Password: "file-pw"}) || tgt != (client.Credentials{User: "bob", Token: "env-tgt-tok"}) ||
		reg != (client.Credentials{Token: "reg-tok"}) {
		t.Errorf("source %#v target %#v registry %#v", src, tgt, reg)
	}
	// Without the file: the common password for both sides, and the
	// registry gets nothing.
	src, tgt, reg, err = passCredentials(passConfig{user: "bob", targetUser: "tina"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if src != (client.Credentials{User: "bob", Password: "common-env-pw"}) || tgt != (client.Credentials{User: "tina", Token: "env-tgt-tok"}) || !reg.IsZero() {
		t.Errorf("source %#v target %#v registry %#v", src, tgt, reg)
	}
}

func writeCredFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, mode); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCredentialsFilePermissions: a file others may read or write is
// refused, and so is anything but a regular file.
func TestCredentialsFilePermissions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o640, false}, {0o644, false}, {0o604, false}, {0o620, false}, {0o666, false}} {
		f := writeCredFile(t, dir, tc.mode.String(), "user = ann\npassword = pw\n", tc.mode)
		_, err := readCredentialsFile(f, passSides)
		if (err == nil) != tc.ok {
			t.Errorf("mode %04o: %v", tc.mode, err)
		}
		if err != nil && !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: %v does not say what to do", tc.mode, err)
		}
	}
	if _, err := readCredentialsFile(dir, passSides); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	if _, err := readCredentialsFile(filepath.Join(dir, "missing"), passSides); err == nil {
		t.Error("a missing file: no error")
	}
}

// TestRefuseSecretFlags: --password and the like are refused before they
// are parsed, without echoing the value.
func TestRefuseSecretFlags(t *testing.T) {
	for _, args := range [][]string{{"--password", "pw"}, {"-password=pw"}, {"--source-token=tok"}, {"--x", "y", "--target-password", "pw"}} {
		err := refuseSecretFlags(args)
		if err == nil || strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "=tok") {
			t.Errorf("%q: %v", args, err)
		}
	}
	for _, args := range [][]string{{"--user", "ann"}, {"--credentials", "f"}, {"--", "--password"}} {
		if err := refuseSecretFlags(args); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
}

// credErrRE matches every error parseCredentials may return: the line
// number, then a fixed message naming at most a known key.
var credErrRE = func() *regexp.Regexp {
	keys := strings.ReplaceAll(strings.Join(knownKeys(passSides), "|"), ".", `\.`)
	return regexp.MustCompile(`^(more than \d+ bytes|not UTF-8 text|line \d+: (not a key = value line|unknown key \(known keys: [a-z., ]+\)|(` + keys + `) (given twice|has an empty value)|the value of (` + keys + `) holds (a control character|a colon, which HTTP Basic does not allow in a user name)))$`)
}()

// FuzzParseCredentials: whatever the file holds, parsing does not panic,
// an error is one of the fixed messages (so it quotes nothing of the file
// but a known key), and what parses gives back the trimmed values.
func FuzzParseCredentials(f *testing.F) {
	for _, s := range []string{"", "user = ann\npassword = pw\n", "source.token=t\r\ntarget.user=u\n", "# c\n=\n", "x", "token = a\ntoken = b",
		"password = \x00", "user = a:b", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := parseCredentials(b, passSides)
		if err != nil {
			if !credErrRE.MatchString(err.Error()) {
				t.Fatalf("unexpected error text %q", err)
			}
			return
		}
		for k, v := range cf {
			if !knownKey(k, passSides) || v == "" || v != strings.TrimSpace(v) || !strings.Contains(string(b), v) {
				t.Fatalf("%q = %q", k, v)
			}
		}
	})
}
