package mobile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"sdatasync/contracts"
	"sdatasync/sdata/site"
)

// Conflict rules of a component.
const (
	ServerWins = "serverWins"
	ClientWins = "clientWins"
	Merge      = "merge"
)

// States of a component.
const (
	Enabled   = "enabled"
	Suspended = "suspended" // devices are refused, backend notifications still apply
	Disabled  = "disabled"  // everyone is refused
)

// App is a mobile application allowed to use a component, in the listed
// versions ("*" allows every version).
type App struct {
	Name     string   `json:"name"`
	Versions []string `json:"versions"`
}

// Component is a mobile sync component: what devices of the allowed apps
// sync under an alias. It is persisted as this JSON document, and the
// component file of `serve --mobile-components` is a JSON array of them.
type Component struct {
	Alias   string `json:"alias"`
	Dataset string `json:"dataset"`
	// Kind is the resource kind's plural name (its URL segment).
	Kind string `json:"kind"`
	// RowIdentifiers are the simple properties, in order, a uid is made of.
	RowIdentifiers []string `json:"rowIdentifiers"`
	// FilterKeys are the properties every device must filter on (may be none).
	FilterKeys   []string `json:"filterKeys,omitempty"`
	ConflictRule string   `json:"conflictRule"`
	// MergeFallback decides a field both sides changed under the merge rule
	// (serverWins or clientWins); required with merge.
	MergeFallback     string `json:"mergeFallback,omitempty"`
	StoreBusinessData bool   `json:"storeBusinessData"`
	State             string `json:"state"`
	Apps              []App  `json:"apps"`
}

var aliasRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

// Validate checks the component against the site's datasets and contract
// and fills in defaults (state enabled). The error says what is wrong.
func (c *Component) Validate(s *site.Site) error {
	if !aliasRE.MatchString(c.Alias) {
		return fmt.Errorf("alias %q: 1 to 128 letters, digits or _ . : -", c.Alias)
	}
	if c.Dataset == "" {
		c.Dataset = site.DefaultDataset
	}
	if !s.HasDataset(c.Dataset) {
		return fmt.Errorf("component %s: dataset %q is not served", c.Alias, c.Dataset)
	}
	k := s.Contract.Kind(c.Kind)
	if k == nil {
		return fmt.Errorf("component %s: the contract has no resource kind %q", c.Alias, c.Kind)
	}
	if _, child := s.Child(c.Kind); child {
		return fmt.Errorf("component %s: %s live inside their parent and are not synced on their own", c.Alias, c.Kind)
	}
	if len(c.RowIdentifiers) == 0 {
		return fmt.Errorf("component %s: rowIdentifiers: at least one property", c.Alias)
	}
	if err := checkProps(c.Alias, "rowIdentifiers", k, c.RowIdentifiers, true); err != nil {
		return err
	}
	if err := checkProps(c.Alias, "filterKeys", k, c.FilterKeys, false); err != nil {
		return err
	}
	switch c.ConflictRule {
	case ServerWins, ClientWins:
		if c.MergeFallback != "" {
			return fmt.Errorf("component %s: mergeFallback goes with the merge rule only", c.Alias)
		}
	case Merge:
		if c.MergeFallback != ServerWins && c.MergeFallback != ClientWins {
			return fmt.Errorf("component %s: the merge rule needs mergeFallback serverWins or clientWins (for a field both sides changed)", c.Alias)
		}
		if !c.StoreBusinessData {
			return fmt.Errorf("component %s: the merge rule needs storeBusinessData (the base a field-level merge compares with)", c.Alias)
		}
	default:
		return fmt.Errorf("component %s: conflictRule %q: serverWins, clientWins or merge", c.Alias, c.ConflictRule)
	}
	switch c.State {
	case "":
		c.State = Enabled
	case Enabled, Suspended, Disabled:
	default:
		return fmt.Errorf("component %s: state %q: enabled, suspended or disabled", c.Alias, c.State)
	}
	if len(c.Apps) == 0 {
		return fmt.Errorf("component %s: apps: at least one mobile application (name and versions)", c.Alias)
	}
	for _, a := range c.Apps {
		if strings.TrimSpace(a.Name) == "" || len(a.Versions) == 0 {
			return fmt.Errorf("component %s: every app needs a name and versions (\"*\" for all)", c.Alias)
		}
	}
	return nil
}

// idKinds are the value kinds a row identifier may have: values whose text
// is their identity.
var idKinds = []contracts.ValueKind{contracts.KindString, contracts.KindInteger, contracts.KindDate, contracts.KindDateTime}

func checkProps(alias, what string, k *contracts.ResourceKind, names []string, ids bool) error {
	seen := map[string]bool{}
	for _, n := range names {
		p := k.Type.Property(n)
		if p == nil {
			return fmt.Errorf("component %s: %s: %s has no property %q", alias, what, k.PluralName, n)
		}
		if p.Kind == contracts.KindComplex || p.MaxOccurs != 1 {
			return fmt.Errorf("component %s: %s: %q is not a simple property", alias, what, n)
		}
		if ids && !slices.Contains(idKinds, p.Kind) {
			return fmt.Errorf("component %s: %s: %q is a %s; row identifiers are strings, integers, dates or date-times", alias, what, n, p.Kind)
		}
		if seen[n] {
			return fmt.Errorf("component %s: %s: %q appears twice", alias, what, n)
		}
		seen[n] = true
	}
	return nil
}

// Fingerprint identifies what a version depends on: the dataset, kind, row
// identifiers and filter keys. Changing any of them makes every version
// issued before stale.
func (c *Component) Fingerprint() string {
	b, _ := json.Marshal([]any{c.Dataset, c.Kind, c.RowIdentifiers, c.FilterKeys})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// Allows reports whether the app in version may use the component.
func (c *Component) Allows(app, version string) bool {
	for _, a := range c.Apps {
		if a.Name == app && (slices.Contains(a.Versions, "*") || slices.Contains(a.Versions, version)) {
			return true
		}
	}
	return false
}

// ParseComponents reads a component file: a JSON array of components (or
// one component).
func ParseComponents(b []byte) ([]Component, error) {
	var list []Component
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		var c Component
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("component file: %w", err)
		}
		return []Component{c}, nil
	}
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("component file: %w", err)
	}
	return list, nil
}
