package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/site"
	"sdatasync/sdata/store"
	"sdatasync/sdata/wire"

	"github.com/beevik/etree"
)

func jsonMarshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// prepare parses a batch feed and prepares its entries. A document that is
// not a well-formed Atom feed, or one with too many entries, is an error of
// the whole batch and nothing of it runs; a bad entry is reported in its own
// result.
func (s *Service) prepare(sc site.Scope, body []byte) ([]item, error) {
	name, err := wire.RootName(body)
	if err != nil {
		return nil, err
	}
	if name.Space != feeds.AtomNS || name.Local != "feed" {
		return nil, diag.New(diag.BadRequest,
			"a batch is an Atom feed of entries tagged with http:httpMethod; got a {%s}%s document", name.Space, name.Local)
	}
	f, err := feeds.ParseFeed(bytes.NewReader(body), s.limits)
	if err != nil {
		return nil, err
	}
	if len(f.Entries) > MaxEntries {
		return nil, diag.New(diag.TooLarge,
			"a batch holds at most %d entries; this one holds %d: split it", MaxEntries, len(f.Entries))
	}
	items := make([]item, len(f.Entries))
	for i, e := range f.Entries {
		items[i] = prepareEntry(sc, i, e)
	}
	return items, nil
}

// prepareEntry checks one request entry: its method (allowed by the
// contract), the resource it names and its payload.
func prepareEntry(sc site.Scope, i int, e *feeds.Entry) item {
	it := item{method: strings.ToUpper(e.HTTPMethod), title: e.Title, path: fmt.Sprintf("feed/entry[%d]", i+1), payload: e.Payload}
	if e.IfMatch != "" {
		it.ifMatch = []string{e.IfMatch}
	}
	bad := func(p, format string, args ...any) item {
		it.err = diag.Payload(p, format, args...)
		return it
	}
	switch it.method {
	case "":
		return bad(it.path+"/httpMethod", "the entry has no http:httpMethod (POST, PUT, DELETE or GET)")
	case http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodGet:
	default:
		return bad(it.path+"/httpMethod", "unsupported http:httpMethod %q: POST, PUT, DELETE or GET", e.HTTPMethod)
	}
	if it.method != http.MethodPost {
		key, err := entryKey(sc, e, it.path)
		if err != nil {
			it.err = err
			return it
		}
		it.key = key
	}
	if err := allowedIn(sc, it.method); err != nil {
		it.err = err
		return it
	}
	if (it.method == http.MethodPost || it.method == http.MethodPut) && e.Payload == nil {
		return bad(it.path+"/payload", "a %s entry needs an sdata:payload holding a <%s> element", it.method, sc.Kind.Name)
	}
	return it
}

// allowedIn returns a 405 when the contract does not allow method on the
// kind.
func allowedIn(sc site.Scope, method string) *diag.Error {
	var ok bool
	switch method {
	case http.MethodPost:
		ok = sc.Kind.CanPost
	case http.MethodPut:
		ok = sc.Kind.CanPut
	case http.MethodDelete:
		ok = sc.Kind.CanDelete
	case http.MethodGet:
		ok = sc.Kind.CanGet
	}
	if ok {
		return nil
	}
	return diag.New(diag.MethodNotAllowed, "%s is not allowed on %s", method, sc.Kind.PluralName)
}

// entryKey finds the key of the resource a PUT, DELETE or GET entry names:
// the entry id when it is a resource URL of the kind, the payload's
// sdata:url, the payload's sdata:key. Every one given must agree.
func entryKey(sc site.Scope, e *feeds.Entry, path string) (string, *diag.Error) {
	type source struct{ what, key string }
	var found []source
	if e.ID != "" {
		key, named, err := urlKey(sc, e.ID)
		if named && err != nil {
			return "", diag.Payload(path+"/id", "entry id %q: %v", e.ID, err)
		}
		if named {
			found = append(found, source{"the entry id", key})
		}
	}
	if u := sdataAttr(e.Payload, "url"); u != "" {
		key, named, err := urlKey(sc, u)
		if !named {
			err = fmt.Errorf("not a resource URL of the form .../%s('key')", sc.Kind.PluralName)
		}
		if err != nil {
			return "", diag.Payload(path+"/payload/"+e.Payload.Tag+"/@sdata:url", "sdata:url %q: %v", u, err)
		}
		found = append(found, source{"sdata:url", key})
	}
	if k := feeds.PayloadKey(e.Payload); k != "" {
		found = append(found, source{"sdata:key", k})
	}
	if len(found) == 0 {
		return "", diag.Payload(path+"/id", "a %s entry must name its resource: an entry id with the resource URL, or sdata:url or sdata:key on the payload",
			strings.ToUpper(e.HTTPMethod))
	}
	for _, f := range found[1:] {
		if f.key != found[0].key {
			return "", diag.Payload(path, "%s names %s('%s') but %s names %s('%s')", found[0].what, sc.Kind.PluralName, found[0].key,
				f.what, sc.Kind.PluralName, f.key)
		}
	}
	return found[0].key, nil
}

// urlKey reads the key of a single-resource URL of sc's kind and dataset.
// named is false when the URL does not end in a resource selector at all
// (an entry id may be any IRI); err says why a selector does not name a
// resource of this kind.
func urlKey(sc site.Scope, raw string) (key string, named bool, err error) {
	u, perr := url.Parse(raw)
	if perr != nil || u.Path == "" {
		return "", false, nil
	}
	p := u.Path
	parent, seg := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		parent, seg = p[:i], p[i+1:]
	}
	open := strings.IndexByte(seg, '(')
	if open <= 0 || !strings.HasSuffix(seg, ")") {
		return "", false, nil
	}
	if kind := seg[:open]; kind != sc.Kind.PluralName && kind != sc.Kind.Name {
		return "", true, fmt.Errorf("names a resource of kind %q, not %s", kind, sc.Kind.PluralName)
	}
	if parent != "" {
		if ds := parent[strings.LastIndexByte(parent, '/')+1:]; ds != sc.Dataset {
			return "", true, fmt.Errorf("names dataset %q, not %q", ds, sc.Dataset)
		}
	}
	key, err = site.ParseKey(seg[open+1 : len(seg)-1])
	return key, true, err
}

// sdataAttr returns the value of an sdata: attribute of a normalized
// payload element ("" when el is nil or lacks it).
func sdataAttr(el *etree.Element, name string) string {
	if el == nil {
		return ""
	}
	for _, a := range el.Attr {
		if a.Space == "sdata" && a.Key == name {
			return a.Value
		}
	}
	return ""
}

// apply runs prepared entries in order and returns one result each.
// Cancellation is honoured between entries: an entry runs to its end once
// started (it is one short transaction), and the entries not reached are
// reported 503 "not processed".
func (s *Service) apply(ctx context.Context, sc site.Scope, items []item, usr string) []store.Result {
	out := make([]store.Result, len(items))
	for i, it := range items {
		if ctx.Err() != nil {
			out[i] = failure(i, it, diag.New(diag.Unavailable,
				"not processed: the batch was interrupted (request cancelled or provider shutting down) before this entry"), "")
			continue
		}
		out[i] = s.applyItem(context.WithoutCancel(ctx), sc, i, it, usr)
	}
	return out
}

// applyItem runs one entry through the ordinary local request paths.
func (s *Service) applyItem(ctx context.Context, sc site.Scope, i int, it item, usr string) store.Result {
	if it.err != nil {
		return failure(i, it, it.err, "")
	}
	one := sc
	one.Key, one.Single = it.key, true
	var res store.Resource
	var err error
	status, outcome := http.StatusOK, ""
	switch it.method {
	case http.MethodPost:
		res, err = s.res.Create(ctx, sc, it.payload, usr)
		status, outcome = http.StatusCreated, outcomeCreated
	case http.MethodPut:
		res, err = s.res.Update(ctx, one, it.payload, it.ifMatch, usr)
		outcome = outcomeUpdated
	case http.MethodDelete:
		res, err = s.res.Delete(ctx, one, it.ifMatch, usr)
		outcome = outcomeDeleted
	case http.MethodGet:
		if res, err = s.res.Get(ctx, one); err == nil {
			err = wire.MatchAll(it.ifMatch, res.ETag)
		}
		outcome = outcomeRead
	}
	if err != nil {
		return failure(i, it, diag.As(ctx, s.log, err), it.path+"/payload/")
	}
	r := store.Result{Seq: i + 1, Status: status, Method: it.method, Outcome: outcome, Key: res.Key, UUID: res.UUID,
		Title: res.Title, Deleted: res.Deleted}
	if !res.Deleted {
		r.ETag, r.Payload = res.ETag, res.Payload
	}
	return r
}

// failure is the result of an entry that failed with e; prefix is put
// before a payload path relative to the entry's payload.
func failure(i int, it item, e *diag.Error, prefix string) store.Result {
	r := store.Result{Seq: i + 1, Status: e.Status, Method: it.method, Key: it.key, Title: it.title, Severity: "error"}
	if len(e.Diagnoses) > 0 {
		d := e.Diagnoses[0]
		r.Outcome, r.Message = diagOutcome(d), d.Message
		if d.Severity != "" {
			r.Severity = d.Severity
		}
		if d.PayloadPath != "" {
			r.PayloadPath = prefix + d.PayloadPath
		}
	} else {
		r.Message = http.StatusText(e.Status)
	}
	return r
}

// diagOutcome encodes a diagnosis' codes in a result's outcome.
func diagOutcome(d feeds.Diagnosis) string {
	if d.ApplicationCode == "" {
		return d.SDataCode
	}
	return d.SDataCode + "/" + d.ApplicationCode
}

// writeFeed writes the result feed of a batch.
func (s *Service) writeFeed(ctx context.Context, w http.ResponseWriter, sc site.Scope, id string, results []store.Result) error {
	head := &feeds.Feed{ID: id, Title: payload.Label(sc.Kind) + " batch", Updated: wire.NowUTC(), TotalResults: len(results),
		StartIndex: 1, ItemsPerPage: len(results), Links: []feeds.Link{{Rel: "self", Type: wire.TypeFeed, Href: id}}}
	fw, err := wire.StreamFeed(w, head)
	if err != nil {
		return err
	}
	for _, rr := range results {
		e, err := s.entry(sc, id, rr)
		if err != nil {
			return err
		}
		if e.Payload != nil {
			if err := s.res.Decorate(ctx, sc, e.Payload); err != nil {
				return err
			}
		}
		if err := fw.WriteEntry(e); err != nil {
			return err
		}
	}
	return fw.Close()
}

// entry renders one batch result.
func (s *Service) entry(sc site.Scope, feedID string, rr store.Result) (*feeds.Entry, error) {
	e := &feeds.Entry{Title: rr.Title, Updated: wire.NowUTC(), HTTPMethod: rr.Method, HTTPStatus: rr.Status,
		HTTPMessage: http.StatusText(rr.Status), ETag: rr.ETag}
	if e.Title == "" {
		e.Title = fmt.Sprintf("%s entry %d", rr.Method, rr.Seq)
	}
	e.Content = e.Title
	e.ID = feedID + "#" + strconv.Itoa(rr.Seq)
	if rr.Key != "" {
		u := s.site.ResourceURL(sc.Dataset, sc.Kind, rr.Key)
		e.ID = u
		if rr.Status < 300 && !rr.Deleted {
			e.Links = []feeds.Link{{Rel: "self", Type: wire.TypeEntry, Title: "Refresh", Href: u}, {Rel: "edit", Type: wire.TypeEntry, Title: "Edit", Href: u}}
		}
		if rr.Status == http.StatusCreated {
			e.Location = u
		}
		if len(rr.Payload) > 0 {
			el, err := payload.WithReadAttrs(rr.Payload, rr.Key, u, rr.UUID, false)
			if err != nil {
				return nil, err
			}
			e.Payload = el
		}
	}
	if rr.Severity != "" {
		code, app, _ := strings.Cut(rr.Outcome, "/")
		if code == "" {
			code = diag.CodeApplicationDiagnosis
		}
		e.Diagnoses = []feeds.Diagnosis{{Severity: rr.Severity, SDataCode: code, ApplicationCode: app, Message: rr.Message, PayloadPath: rr.PayloadPath}}
	}
	return e, nil
}
