// Credentials of the harness: every node it starts has the user Harness,
// an admin of every dataset (it writes the workload, runs passes between
// any nodes and reads every check), and every client of the harness
// authenticates as it.

package converge

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strings"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/sdatatest"
)

// The harness's user. The password only guards providers the harness
// starts on loopback addresses for the length of a test.
const (
	HarnessUser     = "converge"
	harnessPassword = "converge-harness-only"
)

// harnessAuth is the real authentication of an in-process node.
func harnessAuth() *sdatatest.Auth {
	return &sdatatest.Auth{Users: []sdatatest.User{{Name: HarnessUser, Password: harnessPassword,
		Grants: []auth.Grant{{Dataset: auth.AnyDataset, Role: auth.Admin}}}}}
}

// addHarnessUser creates the harness's user in a child node's database
// with the binary's user command (as an operator would); a database that
// has it already is fine.
func addHarnessUser(ctx context.Context, bin, db string) error {
	cmd := exec.CommandContext(ctx, bin, "user", "add", "--db", db, "--role", "admin", "--password-stdin", HarnessUser)
	cmd.Stdin = strings.NewReader(harnessPassword + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "the name is taken") {
		return errors.New("converge: adding the harness user: " + err.Error() + ": " + string(out))
	}
	return nil
}

// Transport returns a RoundTripper that sends the harness's credentials
// with every request (over http.DefaultTransport).
func Transport() http.RoundTripper { return credentials{} }

// TransportOver is Transport over another RoundTripper.
func TransportOver(base http.RoundTripper) http.RoundTripper { return credentials{base: base} }

// PassArgs are the arguments and environment that make a `sdatasync pass`
// child authenticate as the harness's user (the password through the
// environment, never the command line).
func PassArgs() (args, env []string) {
	return []string{"--user", HarnessUser}, []string{"SDATASYNC_PASSWORD=" + harnessPassword}
}

type credentials struct{ base http.RoundTripper }

func (c credentials) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(HarnessUser, harnessPassword)
	if c.base != nil {
		return c.base.RoundTrip(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}
