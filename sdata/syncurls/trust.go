package syncurls

import (
	"context"

	"sdatasync/digest"
	"sdatasync/sdata/auth"
	"sdatasync/sdata/diag"
)

// Sync traffic you can trust (issue 12): a sync credential says which
// endpoints it may speak for (auth.Principal.Endpoints, URL prefixes). A
// digest, a feed or a result feed that names any other endpoint, beside
// this provider's own, is refused before anything of it is stored. An
// admin speaks for every endpoint.

// trust refuses a request whose principal may not speak for one of the
// endpoints its body names.
func (s *Service) trust(ctx context.Context, endpoints ...string) error {
	p := auth.From(ctx)
	if p.IsAdmin() {
		return nil
	}
	for _, u := range endpoints {
		if u == "" || s.site.Owns(u) || p.SpeaksFor(u) {
			continue
		}
		name := "an anonymous request"
		if p != nil {
			name = p.Name
		}
		return diag.New(diag.Forbidden, "%s may not speak for endpoint %s: its sync credential speaks for %v; nothing was applied", name, u, endpointsOf(p))
	}
	return nil
}

func endpointsOf(p *auth.Principal) []string {
	if p == nil || len(p.Endpoints) == 0 {
		return []string{"this provider's own endpoints only"}
	}
	return p.Endpoints
}

// digestEndpoints lists the endpoints a digest names.
func digestEndpoints(d digest.Digest) []string {
	out := make([]string, 0, len(d.Entries)+1)
	out = append(out, d.Origin)
	for _, e := range d.Entries {
		out = append(out, e.Endpoint)
	}
	return out
}

// stateEndpoints lists the endpoints sync states name.
func stateEndpoints(states []digest.SyncState) []string {
	out := make([]string, 0, len(states))
	for _, st := range states {
		out = append(out, st.Endpoint)
	}
	return out
}

// configured replaces the conflict priorities a feed's digest claims for
// endpoints whose priority the provider configures (Config.Priorities; the
// longest matching URL prefix wins).
func (s *Service) configured(ctx context.Context, d *digest.Digest) error {
	if s.priorities == nil || len(d.Entries) == 0 {
		return nil
	}
	prios, err := s.priorities(ctx)
	if err != nil || len(prios) == 0 {
		return err
	}
	for i, e := range d.Entries {
		best := ""
		for pre := range prios {
			if len(pre) > len(best) && auth.Under(e.Endpoint, pre) {
				best = pre
			}
		}
		if best != "" {
			d.Entries[i].ConflictPriority = prios[best]
		}
	}
	return nil
}
