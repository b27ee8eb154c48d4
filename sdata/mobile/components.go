package mobile

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"sdatasync/sdata/diag"
	"sdatasync/sdata/store"
)

// Components lists the stored components by alias.
func (e *Engine) Components(ctx context.Context) ([]Component, error) {
	list, err := e.st.MobileComponents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Component, 0, len(list))
	for _, sc := range list {
		var c Component
		if err := json.Unmarshal(sc.Config, &c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// PutComponent validates a component against the contract (a 400
// diagnosis when it does not fit) and stores it, replacing the one with
// its alias. When its dataset, kind, row identifiers or filter keys
// change, the versions its devices hold become stale and what they hold
// is forgotten. created says whether the alias is new.
func (e *Engine) PutComponent(ctx context.Context, c Component) (stored Component, created bool, err error) {
	if err := c.Validate(e.site); err != nil {
		return Component{}, false, diag.New(diag.BadRequest, "%v", err)
	}
	old, err := e.Component(ctx, c.Alias)
	switch {
	case errors.Is(err, store.ErrNotFound):
		created = true
	case err != nil:
		return Component{}, false, err
	}
	if err := e.st.EnsurePropIndex(ctx, c.RowIdentifiers); err != nil {
		return Component{}, false, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return Component{}, false, err
	}
	reset := !created && old.Fingerprint() != c.Fingerprint()
	if err := e.st.PutMobileComponent(ctx, c.Alias, b, reset); err != nil {
		return Component{}, false, err
	}
	return c, created, nil
}

// DeleteComponent removes a component (store.ErrNotFound when there is
// none).
func (e *Engine) DeleteComponent(ctx context.Context, alias string) error {
	return e.st.DeleteMobileComponent(ctx, alias)
}

// LoadFile stores the components of a component file (a JSON array of
// components), each validated; the first invalid one stops the load.
func (e *Engine) LoadFile(ctx context.Context, path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	list, err := ParseComponents(b)
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, c := range list {
		if seen[c.Alias] {
			return 0, errors.New("component file: alias " + c.Alias + " appears twice")
		}
		seen[c.Alias] = true
	}
	aliases := make([]string, 0, len(list))
	for _, c := range list {
		if _, _, err := e.PutComponent(ctx, c); err != nil {
			var de *diag.Error
			if errors.As(err, &de) && len(de.Diagnoses) > 0 {
				return len(aliases), errors.New("component file " + path + ": " + de.Diagnoses[0].Message)
			}
			return len(aliases), err
		}
		aliases = append(aliases, c.Alias)
	}
	return len(aliases), nil
}
