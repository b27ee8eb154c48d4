package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"sdatasync/contracts"
	"sdatasync/sdata/client"
)

// endpointURL is a parsed dataset or resource kind URL:
// {prefix}/sdata/{app}/{contract}/{dataset}[/{kind}].
type endpointURL struct {
	raw      string
	host     *url.URL // scheme and host only
	contract string   // the contract's URL name
	contrURL string   // …/sdata/{app}/{contract}
	dataset  string   // …/sdata/{app}/{contract}/{dataset}
	kind     string   // the kind segment, "" for a dataset URL
}

func parseEndpoint(raw string) (endpointURL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return endpointURL{}, fmt.Errorf("%w: %q: %v", ErrBadOptions, raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return endpointURL{}, fmt.Errorf("%w: %q is not an absolute http(s) URL", ErrBadOptions, raw)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i, s := range segs {
		n := len(segs) - i - 1
		if s != "sdata" || (n != 3 && n != 4) {
			continue
		}
		for _, x := range segs[i+1:] {
			if x == "" || strings.HasPrefix(x, "$") || strings.ContainsAny(x, "()") {
				return endpointURL{}, fmt.Errorf("%w: %q: unexpected segment %q", ErrBadOptions, raw, x)
			}
		}
		host := &url.URL{Scheme: u.Scheme, Host: u.Host}
		mk := func(p []string) string {
			return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/" + strings.Join(p, "/")}).String()
		}
		ep := endpointURL{raw: raw, host: host, contract: segs[i+2], contrURL: mk(segs[:i+3]), dataset: mk(segs[:i+4])}
		if n == 4 {
			ep.kind = segs[i+4]
		}
		return ep, nil
	}
	return endpointURL{}, fmt.Errorf("%w: %q is neither a dataset URL (…/sdata/{app}/{contract}/{dataset}) nor a resource kind URL (…/{dataset}/{kind})", ErrBadOptions, raw)
}

// kindPlan is one kind's pass in one direction.
type kindPlan struct {
	kind           string // plural name at the source
	order          int    // sme:syncOrder at the source
	source, target string // kind URLs
	// src and tgt send the requests to the source and to the target, each
	// with the credentials of its provider only.
	src, tgt *client.Client
}

// plan reads both contracts' $schema and lists the kind passes to run:
// cs is the client of opts.Source, ct of opts.Target, whichever way a kind
// goes.
func (e *Engine) plan(ctx context.Context, cs, ct *client.Client, opts PassOptions) ([]kindPlan, error) {
	src, err := parseEndpoint(opts.Source)
	if err != nil {
		return nil, err
	}
	tgt, err := parseEndpoint(opts.Target)
	if err != nil {
		return nil, err
	}
	var sc, tc *contracts.Contract
	if src.contrURL == tgt.contrURL {
		if sc, err = loadSchema(ctx, cs, src); err != nil {
			return nil, err
		}
		tc = sc
	} else {
		// Two providers: both contracts are read at the same time (a
		// quiet pass is a dozen short requests; this saves one).
		var terr error
		var read sync.WaitGroup
		tctx, cancel := context.WithCancel(ctx)
		defer cancel()
		read.Go(func() { tc, terr = loadSchema(tctx, ct, tgt) })
		sc, err = loadSchema(ctx, cs, src)
		if err != nil {
			cancel() // the source's error is the pass's: no wait for the target's retries
		}
		read.Wait()
		if err != nil {
			return nil, err
		}
		if terr != nil {
			return nil, terr
		}
	}
	out, err := direction(src, tgt, sc, tc, !opts.Both)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].src, out[i].tgt = cs, ct
	}
	if opts.Both {
		back, err := direction(tgt, src, tc, sc, false)
		if err != nil {
			return nil, err
		}
		for i := range back {
			back[i].src, back[i].tgt = ct, cs
		}
		out = append(out, back...)
	}
	if len(opts.Kinds) > 0 {
		var kept []kindPlan
		for _, name := range opts.Kinds {
			found := false
			for _, p := range out {
				if p.kind == name || kindElem(sc, tc, p.kind) == name {
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("%w: kind %q is not synchronized between %s and %s (it must be sme:isSyncSource on one side and sme:isSyncTarget on the other)", ErrBadOptions, name, opts.Source, opts.Target)
			}
		}
		for _, p := range out {
			if slices.Contains(opts.Kinds, p.kind) || slices.Contains(opts.Kinds, kindElem(sc, tc, p.kind)) {
				kept = append(kept, p)
			}
		}
		out = kept
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no resource kind is a sync source at %s and a sync target at %s", ErrBadOptions, opts.Source, opts.Target)
	}
	return out, nil
}

// kindElem returns the element name of the kind with plural name plural in
// either contract.
func kindElem(a, b *contracts.Contract, plural string) string {
	for _, c := range []*contracts.Contract{a, b} {
		if k := c.Kind(plural); k != nil {
			return k.Name
		}
	}
	return ""
}

// direction lists the kind passes from src to tgt in ascending syncOrder.
// strict makes a kind named by a kind URL that cannot go this way an error.
func direction(src, tgt endpointURL, sc, tc *contracts.Contract, strict bool) ([]kindPlan, error) {
	if src.kind != "" || tgt.kind != "" {
		sname, tname := src.kind, tgt.kind
		if sname == "" {
			sname = tname
		}
		if tname == "" {
			tname = sname
		}
		sk, tk := sc.Kind(sname), tc.Kind(tname)
		switch {
		case sk == nil:
			return nil, fmt.Errorf("%w: resource kind %q not found in the $schema of %s", ErrBadOptions, sname, src.contrURL)
		case tk == nil:
			return nil, fmt.Errorf("%w: resource kind %q not found in the $schema of %s", ErrBadOptions, tname, tgt.contrURL)
		case !sk.IsSyncSource || !tk.IsSyncTarget:
			if strict {
				return nil, fmt.Errorf("%w: %s is not a sync source at %s or not a sync target at %s", ErrBadOptions, sname, src.dataset, tgt.dataset)
			}
			return nil, nil
		}
		return []kindPlan{{kind: sk.PluralName, order: sk.SyncOrder, source: src.dataset + "/" + sk.PluralName,
			target: tgt.dataset + "/" + tk.PluralName}}, nil
	}
	var out []kindPlan
	for _, sk := range sc.SyncKinds() {
		if !sk.IsSyncSource {
			continue
		}
		tk := tc.Kind(sk.PluralName)
		if tk == nil || tk.PluralName != sk.PluralName || !tk.IsSyncTarget {
			continue
		}
		out = append(out, kindPlan{kind: sk.PluralName, order: sk.SyncOrder, source: src.dataset + "/" + sk.PluralName,
			target: tgt.dataset + "/" + tk.PluralName})
	}
	return out, nil
}

// loadSchema GETs {contract}/$schema and loads it; schemaLocation imports
// are fetched relative to it from the same host.
func loadSchema(ctx context.Context, cl *client.Client, ep endpointURL) (*contracts.Contract, error) {
	su, err := url.Parse(ep.contrURL + "/$schema")
	if err != nil {
		return nil, err
	}
	hfs := &httpFS{ctx: ctx, c: cl, host: ep.host}
	c, err := contracts.LoadFS(hfs, strings.TrimPrefix(su.Path, "/"), ep.contract)
	if err != nil {
		if hfs.err != nil {
			return nil, hfs.err
		}
		return nil, fmt.Errorf("reading the $schema of %s: %w", ep.contrURL, err)
	}
	return c, nil
}

// httpFS is a read-only fs.FS over the files of one host: name is a URL
// path without its leading slash. It serves the contract loader.
type httpFS struct {
	ctx  context.Context
	c    *client.Client
	host *url.URL
	err  error // the first HTTP error, reported instead of the loader's
}

// ReadFile implements fs.ReadFileFS.
func (h *httpFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	u := *h.host
	u.Path = "/" + name
	res, err := h.c.Do(h.ctx, http.MethodGet, u.String(), nil, "")
	if err != nil {
		if h.err == nil {
			h.err = err
		}
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return res.Body, nil
}

// Open implements fs.FS.
func (h *httpFS) Open(name string) (fs.File, error) {
	b, err := h.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(b), name: path.Base(name), size: int64(len(b))}, nil
}

type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Name() string               { return f.name }
func (f *memFile) Size() int64                { return f.size }
func (f *memFile) Mode() fs.FileMode          { return 0o444 }
func (f *memFile) ModTime() time.Time         { return time.Time{} }
func (f *memFile) IsDir() bool                { return false }
func (f *memFile) Sys() any                   { return nil }

var _ io.Reader = (*memFile)(nil)
