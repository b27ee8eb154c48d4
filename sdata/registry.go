package sdata

// The endpoint registry (SData core 14) at /sdata/$system/registry/-/endpoints.
//
// The feed lists this provider's own endpoints first (its application URL,
// its contract URL and one dataSet URL per dataset; read-only, keys
// "self.application", "self.contract" and "self.dataSet.{name}") and then
// the endpoints applications registered (keys "1", "2", ..., never reused).
// Every entry carries an <endpoint> payload in the registry namespace with
// the elements of registry.xsd in its order.
//
// Registered endpoints are created with POST, read with GET
// endpoints('{key}'), changed with PUT (a partial payload merged into the
// current one; If-Match honoured) and removed with DELETE. The registry
// derives what the URL implies when the payload leaves it out: protocol,
// host and port always (a payload value contradicting the URL is refused),
// and for URLs of the form .../sdata/{app}[/{contract}[/{dataset}]] the
// endpointType, applicationName, contractName and dataSetName. aliveStamp
// defaults to the time of the POST or PUT. URLs are unique: the scheme and
// host are lower-cased and a trailing slash dropped before comparing.
//
// Sync role: registry.xsd has no element saying whether an endpoint acts as
// a synchronization source, target or both, so this provider uses the
// schema's own extension point, a custom property in the properties list:
//
//	<properties>
//	  <property name="syncRole" ns="urn:sdatasync:registry">source|target|both</property>
//	</properties>
//
// It defaults to "both" when a registration leaves it out, is validated, and
// is queryable as if it were an element: where=syncRole eq 'source'.
// Own dataSet endpoints declare "both".

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata/query"
	"sdatasync/sdata/store"
)

// Registry namespaces and values.
const (
	// RegistryNS is the namespace of registry payloads (registry.xsd).
	RegistryNS = "http://schemas.sage.com/sdata/registry/2009"
	// RegistryExtNS is the ns of this provider's custom endpoint properties.
	RegistryExtNS = "urn:sdatasync:registry"
	// RegistryPath is the path of the registry's endpoints collection.
	RegistryPath = "/sdata/$system/registry/-/endpoints"

	// Sync roles of a registered endpoint (the syncRole property).
	SyncRoleSource = "source"
	SyncRoleTarget = "target"
	SyncRoleBoth   = "both"

	// Endpoint types of registry.xsd.
	EndpointTypeApplication = "application"
	EndpointTypeContract    = "contract"
	EndpointTypeDataSet     = "dataSet"
)

// ErrNotRegistered is returned (wrapped) by ResolveRegistered when no
// endpoint has the title.
var ErrNotRegistered = errors.New("sdata: no such registered endpoint")

// registryField is one element of the registry endpoint type.
type registryField struct {
	name  string
	typ   query.Type
	query bool // usable in where and orderBy
}

// registryFields are the simple elements of endpoint--type, in schema order
// (properties, the one complex element, comes last).
var registryFields = []registryField{
	{"title", query.String, true},
	{"description", query.String, false},
	{"endpointType", query.String, true},
	{"protocol", query.String, true},
	{"host", query.String, true},
	{"port", query.Integer, true},
	{"applicationName", query.String, true},
	{"contractName", query.String, true},
	{"contractVersion", query.String, true},
	{"dataSetName", query.String, true},
	{"url", query.String, true},
	{"isBrowsable", query.Boolean, true},
	{"aliveStamp", query.DateTime, true},
}

const syncRoleProp = "syncRole"

// nillable elements of registry.xsd.
var registryNillable = []string{"contractName", "contractVersion", "dataSetName"}

// findRegistryField returns the simple element name of the endpoint type.
func findRegistryField(name string) (registryField, bool) {
	for _, f := range registryFields {
		if f.name == name {
			return f, true
		}
	}
	return registryField{}, false
}

// registryResolver maps where/orderBy names to the JSON props of entries.
func registryResolver(path string) (string, query.Type, error) {
	if path == syncRoleProp {
		return `json_extract(r.props, '$."syncRole"')`, query.String, nil
	}
	f, ok := findRegistryField(path)
	if !ok || !f.query {
		return "", 0, fmt.Errorf("endpoint has no queryable property %q", path)
	}
	return `json_extract(r.props, '$."` + f.name + `"')`, f.typ, nil
}

// regProperty is one custom property of an endpoint.
type regProperty struct{ name, ns, value string }

// regEndpoint is a parsed registry payload: simple values by element name
// (absent: not in the map; xsi:nil: nil) and the custom properties.
type regEndpoint struct {
	vals  map[string]*string
	props []regProperty
	hasPr bool // a properties element was given
}

func (e *regEndpoint) get(name string) string {
	if p := e.vals[name]; p != nil {
		return *p
	}
	return ""
}

func (e *regEndpoint) set(name, v string) { e.vals[name] = &v }

func (e *regEndpoint) has(name string) bool { _, ok := e.vals[name]; return ok }

func (e *regEndpoint) syncRole() (string, int) {
	for i, p := range e.props {
		if p.name == syncRoleProp && p.ns == RegistryExtNS {
			return p.value, i
		}
	}
	return "", -1
}

// parseRegistryPayload checks the structure of an endpoint element.
func parseRegistryPayload(el *etree.Element) (*regEndpoint, error) {
	if el.Tag != "endpoint" || el.Space != "" {
		return nil, payloadError(el.Tag, "the payload element is %q; a registry entry must be an <endpoint> element in %s", el.FullTag(), RegistryNS)
	}
	if ns := el.SelectAttrValue("xmlns", ""); ns != "" && ns != RegistryNS {
		return nil, payloadError("endpoint", "the payload namespace %q is not the registry's (%s)", ns, RegistryNS)
	}
	ep := &regEndpoint{vals: map[string]*string{}}
	for _, ch := range el.ChildElements() {
		path := "endpoint/" + ch.Tag
		if ch.Space != "" {
			return nil, payloadError("endpoint/"+ch.FullTag(), "unknown element %s: registry endpoints take only the elements of registry.xsd", ch.FullTag())
		}
		if ch.Tag == "properties" {
			if ep.hasPr {
				return nil, payloadError(path, "properties given twice")
			}
			ep.hasPr = true
			for i, p := range ch.ChildElements() {
				pp := fmt.Sprintf("%s/property[%d]", path, i+1)
				if p.Tag != "property" || p.Space != "" {
					return nil, payloadError(pp, "unknown element %s in properties", p.FullTag())
				}
				if len(p.ChildElements()) > 0 {
					return nil, payloadError(pp, "a property holds text only")
				}
				name := strings.TrimSpace(p.SelectAttrValue("name", ""))
				if name == "" {
					return nil, payloadError(pp+"/@name", "a property needs a name attribute")
				}
				ep.props = append(ep.props, regProperty{name: name, ns: p.SelectAttrValue("ns", ""), value: p.Text()})
			}
			continue
		}
		if _, ok := findRegistryField(ch.Tag); !ok {
			return nil, payloadError(path, "unknown element %s: registry endpoints take only the elements of registry.xsd", ch.Tag)
		}
		if ep.has(ch.Tag) {
			return nil, payloadError(path, "%s given twice", ch.Tag)
		}
		if len(ch.ChildElements()) > 0 {
			return nil, payloadError(path, "%s is a simple value", ch.Tag)
		}
		if feeds.IsNil(ch) {
			if !slices.Contains(registryNillable, ch.Tag) {
				return nil, payloadError(path, "%s is not nillable", ch.Tag)
			}
			ep.vals[ch.Tag] = nil
			continue
		}
		ep.set(ch.Tag, ch.Text())
	}
	return ep, nil
}

// canonicalURL checks an endpoint URL and returns its canonical form.
func canonicalURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q is not an absolute http or https URL", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%q has no host", raw)
	}
	if u.User != nil || u.Fragment != "" || u.RawQuery != "" || u.Opaque != "" {
		return "", fmt.Errorf("%q: an endpoint URL has no user info, query or fragment", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q has an invalid port", raw)
		}
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// derived are the values a canonical endpoint URL implies.
func derived(raw string) map[string]string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	m := map[string]string{"protocol": u.Scheme, "host": u.Hostname()}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	m["port"] = port
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i, s := range segs {
		if s != "sdata" {
			continue
		}
		rest := segs[i+1:]
		if len(rest) == 0 || len(rest) > 3 || slices.ContainsFunc(rest, func(s string) bool { return s == "" || strings.HasPrefix(s, "$") }) {
			break
		}
		names := []string{"applicationName", "contractName", "dataSetName"}
		types := []string{EndpointTypeApplication, EndpointTypeContract, EndpointTypeDataSet}
		for j, s := range rest {
			v, err := url.PathUnescape(s)
			if err != nil {
				v = s
			}
			m[names[j]] = v
		}
		m["endpointType"] = types[len(rest)-1]
		break
	}
	return m
}

// normalize validates the values of ep and fills in what its URL implies;
// now is the default aliveStamp.
func (ep *regEndpoint) normalize(now time.Time) error {
	for _, f := range registryFields {
		if v, ok := ep.vals[f.name]; ok && v != nil && f.typ != query.String {
			ep.set(f.name, strings.TrimSpace(*v))
		}
	}
	for _, n := range []string{"title", "url", "endpointType", "protocol", "host"} {
		if ep.has(n) {
			ep.set(n, strings.TrimSpace(ep.get(n)))
		}
	}
	if ep.get("title") == "" {
		return payloadError("endpoint/title", "title is required")
	}
	if ep.get("url") == "" {
		return payloadError("endpoint/url", "url is required")
	}
	cu, err := canonicalURL(ep.get("url"))
	if err != nil {
		return payloadError("endpoint/url", "%v", err)
	}
	ep.set("url", cu)
	d := derived(cu)
	for _, n := range []string{"protocol", "host", "port"} {
		if v := ep.get(n); ep.has(n) && v != "" && !strings.EqualFold(v, d[n]) {
			return payloadError("endpoint/"+n, "%s %q contradicts the url %s", n, v, cu)
		}
		ep.set(n, d[n])
	}
	for _, n := range []string{"endpointType", "applicationName", "contractName", "dataSetName"} {
		if !ep.has(n) && d[n] != "" {
			ep.set(n, d[n])
		}
	}
	switch t := ep.get("endpointType"); t {
	case EndpointTypeApplication, EndpointTypeContract, EndpointTypeDataSet:
	case "":
		return payloadError("endpoint/endpointType", "endpointType is required when the url does not have the form .../sdata/{application}[/{contract}[/{dataSet}]]")
	default:
		return payloadError("endpoint/endpointType", "endpointType %q is not one of application, contract, dataSet", t)
	}
	if ep.has("isBrowsable") {
		switch ep.get("isBrowsable") {
		case "true", "1":
			ep.set("isBrowsable", "true")
		case "false", "0":
			ep.set("isBrowsable", "false")
		default:
			return payloadError("endpoint/isBrowsable", "isBrowsable %q is not a boolean", ep.get("isBrowsable"))
		}
	}
	if v := ep.get("aliveStamp"); v != "" {
		t, err := feeds.ParseTime(v)
		if err != nil {
			return payloadError("endpoint/aliveStamp", "aliveStamp %q is not an xs:dateTime", v)
		}
		ep.set("aliveStamp", t.UTC().Format(time.RFC3339Nano))
	} else {
		ep.set("aliveStamp", now.UTC().Format(time.RFC3339Nano))
	}
	role, i := ep.syncRole()
	switch strings.TrimSpace(role) {
	case SyncRoleSource, SyncRoleTarget, SyncRoleBoth:
		ep.props[i].value = strings.TrimSpace(role)
	case "":
		if i >= 0 {
			ep.props[i].value = SyncRoleBoth
		} else {
			ep.props = append(ep.props, regProperty{name: syncRoleProp, ns: RegistryExtNS, value: SyncRoleBoth})
		}
	default:
		return payloadError(fmt.Sprintf("endpoint/properties/property[%d]", i+1), "syncRole %q is not one of source, target, both", role)
	}
	return nil
}

// render builds the canonical payload and the JSON query props of ep.
func (ep *regEndpoint) render() (payload, props []byte, err error) {
	root := etree.NewElement("endpoint")
	root.CreateAttr("xmlns", RegistryNS)
	m := map[string]any{}
	for _, f := range registryFields {
		v, ok := ep.vals[f.name]
		if !ok {
			continue
		}
		ch := root.CreateElement(f.name)
		if v == nil {
			ch.CreateAttr("xsi:nil", "true")
			m[f.name] = nil
			continue
		}
		ch.SetText(*v)
		switch f.typ {
		case query.Integer:
			n, err := strconv.ParseInt(*v, 10, 64)
			if err != nil {
				return nil, nil, payloadError("endpoint/"+f.name, "%s %q is not an integer", f.name, *v)
			}
			m[f.name] = n
		case query.Boolean:
			m[f.name] = *v == "true"
		default:
			m[f.name] = *v
		}
	}
	if len(ep.props) > 0 {
		pl := root.CreateElement("properties")
		for _, p := range ep.props {
			pe := pl.CreateElement("property")
			pe.CreateAttr("name", p.name)
			if p.ns != "" {
				pe.CreateAttr("ns", p.ns)
			}
			pe.SetText(p.value)
		}
	}
	if role, _ := ep.syncRole(); role != "" {
		m[syncRoleProp] = role
	}
	declarePrefixes(root)
	doc := etree.NewDocument()
	doc.SetRoot(root)
	doc.WriteSettings.CanonicalEndTags = false
	if payload, err = doc.WriteToBytes(); err != nil {
		return nil, nil, err
	}
	if props, err = json.Marshal(m); err != nil {
		return nil, nil, err
	}
	return payload, props, nil
}

// registryURL is the URL of the endpoints collection, entryURL one entry's.
func (s *Server) registryURL() string { return s.base + RegistryPath }
func (s *Server) registryEntryURL(key string) string {
	return s.registryURL() + "('" + url.PathEscape(strings.ReplaceAll(key, "'", "''")) + "')"
}

func (s *Server) appURL() string { return s.base + "/sdata/" + url.PathEscape(s.cfg.App) }

// ownEndpoints builds this provider's own registry entries; alive is their
// aliveStamp (the ETag does not depend on it).
func (s *Server) ownEndpoints(alive time.Time) ([]store.RegistryEntry, error) {
	type own struct{ key, typ, title, url, ds string }
	app, c := s.cfg.App, s.cfg.Contract.Name
	list := []own{
		{"self.application", EndpointTypeApplication, app + " application", s.appURL(), ""},
		{"self.contract", EndpointTypeContract, app + " " + c + " contract", s.contractURL(), ""},
	}
	for _, ds := range s.datasets {
		list = append(list, own{"self.dataSet." + ds, EndpointTypeDataSet, app + " " + c + " dataset " + ds, s.datasetURL(ds), ds})
	}
	out := make([]store.RegistryEntry, 0, len(list))
	for _, o := range list {
		ep := &regEndpoint{vals: map[string]*string{}}
		ep.set("title", o.title)
		ep.set("endpointType", o.typ)
		ep.set("applicationName", app)
		if o.typ != EndpointTypeApplication {
			ep.set("contractName", c)
		}
		if o.ds != "" {
			ep.set("dataSetName", o.ds)
			ep.props = []regProperty{{name: syncRoleProp, ns: RegistryExtNS, value: SyncRoleBoth}}
		}
		ep.set("url", o.url)
		ep.set("isBrowsable", "true")
		if d := derived(o.url); d != nil {
			for _, n := range []string{"protocol", "host", "port"} {
				ep.set(n, d[n])
			}
		}
		stable, _, err := ep.render()
		if err != nil {
			return nil, err
		}
		ep.set("aliveStamp", alive.UTC().Format(time.RFC3339Nano))
		payload, props, err := ep.render()
		if err != nil {
			return nil, err
		}
		out = append(out, store.RegistryEntry{Key: o.key, URL: o.url, ETag: store.RegistryETag(stable),
			Payload: payload, Props: props, Title: o.title, BuiltIn: true, Created: alive, Updated: alive})
	}
	return out, nil
}

// ownEndpoint returns the own entry with key.
func (s *Server) ownEndpoint(key string) (store.RegistryEntry, bool, error) {
	own, err := s.ownEndpoints(nowUTC())
	if err != nil {
		return store.RegistryEntry{}, false, err
	}
	for _, e := range own {
		if e.Key == key {
			return e, true, nil
		}
	}
	return store.RegistryEntry{}, false, nil
}

// registryEntry renders a registry entry as an Atom entry.
func (s *Server) registryEntry(e store.RegistryEntry) (*feeds.Entry, error) {
	u := s.registryEntryURL(e.Key)
	el, err := parseStored(e.Payload)
	if err != nil {
		return nil, err
	}
	el.CreateAttr("sdata:key", e.Key)
	el.CreateAttr("sdata:url", u)
	links := []feeds.Link{{Rel: "self", Type: typeEntry, Title: "Refresh", Href: u}}
	if !e.BuiltIn {
		links = append(links, feeds.Link{Rel: "edit", Type: typeEntry, Title: "Edit", Href: u})
	}
	content := e.Title
	if d := el.SelectElement("description"); d != nil && d.Text() != "" {
		content = d.Text()
	}
	return &feeds.Entry{ID: u, Title: e.Title, Updated: e.Updated, Content: content, Links: links, ETag: e.ETag, Payload: el}, nil
}

// registryLevel serves /sdata/$system/registry/-/{seg}: endpoints and
// endpoints('key').
func (s *Server) registryLevel(w http.ResponseWriter, r *http.Request) error {
	seg := muxVar(r, "seg")
	name, key, single := seg, "", false
	if i := strings.IndexByte(seg, '('); i >= 0 {
		if !strings.HasSuffix(seg, ")") {
			return errorf(http.StatusBadRequest, CodeBadURLSyntax, "malformed resource selector %q: expected endpoints('key')", seg)
		}
		k, err := parseKey(seg[i+1 : len(seg)-1])
		if err != nil {
			return errorf(http.StatusBadRequest, CodeBadURLSyntax, "malformed resource selector %q: %v", seg, err)
		}
		name, key, single = seg[:i], k, true
	}
	if name != "endpoints" {
		return errorf(http.StatusNotFound, CodeResourceKindNotFound, "resource kind %q not found in the registry: it serves endpoints", name)
	}
	if !single {
		if err := allow(r, http.MethodGet, http.MethodPost); err != nil {
			return err
		}
		if r.Method == http.MethodPost {
			return s.registerEndpoint(w, r)
		}
		return s.listRegistry(w, r)
	}
	if own, ok, err := s.ownEndpoint(key); err != nil {
		return err
	} else if ok {
		if r.Method == http.MethodPut || r.Method == http.MethodDelete {
			e := errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
				"endpoints('%s') is one of this provider's own endpoints and is read-only; only registered endpoints can be changed or removed", key)
			e.Allow = http.MethodGet
			return e
		}
		if err := allow(r, http.MethodGet); err != nil {
			return err
		}
		return s.writeRegistryEntry(w, r, own, http.StatusOK, "")
	}
	if err := allow(r, http.MethodGet, http.MethodPut, http.MethodDelete); err != nil {
		return err
	}
	switch r.Method {
	case http.MethodPut:
		return s.updateRegistered(w, r, key)
	case http.MethodDelete:
		return s.deleteRegistered(w, r, key)
	}
	e, err := s.st.RegistryGet(r.Context(), key)
	if err != nil {
		return registryNotFound(key, err)
	}
	return s.writeRegistryEntry(w, r, e, http.StatusOK, "")
}

// registryOp answers services under the endpoints collection: none exist.
func (s *Server) registryOp(w http.ResponseWriter, r *http.Request) error {
	return errorf(http.StatusNotFound, CodeBadURLSyntax, "the registry has no service %q on %s", muxVar(r, "op"), muxVar(r, "seg"))
}

// systemNotFound answers the rest of the $system URL space.
func (s *Server) systemNotFound(w http.ResponseWriter, r *http.Request) error {
	return errorf(http.StatusNotFound, CodeBadURLSyntax, "no system resource at %s: the registry is at %s", r.URL.Path, RegistryPath)
}

func registryNotFound(key string, err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, CodeResourceNotFound, "endpoints('%s') not found", key)
	}
	return err
}

func (s *Server) writeRegistryEntry(w http.ResponseWriter, r *http.Request, e store.RegistryEntry, status int, location string) error {
	if r.Method == http.MethodGet {
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Trim(inm, `"`) == e.ETag {
			w.Header().Set("ETag", quoteETag(e.ETag))
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	ae, err := s.registryEntry(e)
	if err != nil {
		return err
	}
	return s.writeEntry(w, status, ae, location)
}

// listRegistry serves the registry feed: own endpoints, then registered
// ones, filtered by where, ordered by orderBy and paged.
func (s *Server) listRegistry(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pg, err := parsePaging(q)
	if err != nil {
		return err
	}
	lq, err := listQuery(q, pg, registryResolver)
	if err != nil {
		return err
	}
	now := nowUTC()
	own, err := s.ownEndpoints(now)
	if err != nil {
		return err
	}
	list, total, err := s.st.RegistryList(r.Context(), own, lq)
	if err != nil {
		return err
	}
	if pg.count == 0 {
		list = nil // count=0 asks for the totals only
	}
	self := s.registryURL()
	head := &feeds.Feed{ID: self, Title: "Endpoints", Updated: now,
		TotalResults: total, StartIndex: pg.start, ItemsPerPage: pg.count, Links: pageLinks(self, q, pg, total)}
	w.Header().Set("Content-Type", typeFeed)
	fw, err := feeds.NewFeedWriter(w, head)
	if err != nil {
		return err
	}
	for _, e := range list {
		ae, err := s.registryEntry(e)
		if err != nil {
			return err
		}
		if err := fw.WriteEntry(ae); err != nil {
			return err
		}
	}
	return fw.Close()
}

// checkOwnURL refuses to register one of this provider's own URLs.
func (s *Server) checkOwnURL(u string) error {
	own, err := s.ownEndpoints(nowUTC())
	if err != nil {
		return err
	}
	for _, o := range own {
		if c, err := canonicalURL(o.URL); err == nil && c == u {
			return errorf(http.StatusConflict, CodeConflict, "%s is this provider's own endpoint endpoints('%s'); it is listed already", u, o.Key)
		}
	}
	return nil
}

func (s *Server) registerEndpoint(w http.ResponseWriter, r *http.Request) error {
	el, _, err := s.readResource(w, r)
	if err != nil {
		return err
	}
	ep, err := parseRegistryPayload(el)
	if err != nil {
		return err
	}
	if err := ep.normalize(nowUTC()); err != nil {
		return err
	}
	payload, props, err := ep.render()
	if err != nil {
		return err
	}
	if err := s.checkOwnURL(ep.get("url")); err != nil {
		return err
	}
	e, err := s.st.RegistryCreate(r.Context(), store.RegistryWrite{URL: ep.get("url"), Payload: payload, Props: props, Title: ep.get("title")})
	if err != nil {
		return err
	}
	return s.writeRegistryEntry(w, r, e, http.StatusCreated, s.registryEntryURL(e.Key))
}

// updateRegistered serves PUT: the payload's elements replace the current
// ones; the result is validated as a whole. aliveStamp is refreshed unless
// the payload gives one; values derived from an old URL follow a new one.
func (s *Server) updateRegistered(w http.ResponseWriter, r *http.Request, key string) error {
	patch, entry, err := s.readResource(w, r)
	if err != nil {
		return err
	}
	if _, err := parseRegistryPayload(patch); err != nil {
		return err
	}
	var tags []string
	if h := r.Header.Get("If-Match"); h != "" {
		tags = append(tags, h)
	}
	if entry != nil && entry.IfMatch != "" {
		tags = append(tags, entry.IfMatch)
	}
	var newURL string
	e, err := s.st.RegistryUpdate(r.Context(), key, func(cur store.RegistryEntry) (store.RegistryWrite, error) {
		for _, m := range tags {
			if err := matchETag(m, cur.ETag); err != nil {
				return store.RegistryWrite{}, err
			}
		}
		curEl, err := parseStored(cur.Payload)
		if err != nil {
			return store.RegistryWrite{}, err
		}
		if patch.SelectElement("aliveStamp") == nil {
			for _, c := range curEl.SelectElements("aliveStamp") {
				curEl.RemoveChild(c)
			}
		}
		if pu := patch.SelectElement("url"); pu != nil {
			if nu, err := canonicalURL(pu.Text()); err == nil && nu != cur.URL {
				old := derived(cur.URL)
				for n, v := range old {
					if patch.SelectElement(n) != nil {
						continue
					}
					for _, c := range curEl.SelectElements(n) {
						if strings.TrimSpace(c.Text()) == v {
							curEl.RemoveChild(c)
						}
					}
				}
			}
		}
		ep, err := parseRegistryPayload(merge(curEl, patch))
		if err != nil {
			return store.RegistryWrite{}, err
		}
		if err := ep.normalize(nowUTC()); err != nil {
			return store.RegistryWrite{}, err
		}
		payload, props, err := ep.render()
		if err != nil {
			return store.RegistryWrite{}, err
		}
		newURL = ep.get("url")
		if err := s.checkOwnURL(newURL); err != nil {
			return store.RegistryWrite{}, err
		}
		return store.RegistryWrite{URL: newURL, Payload: payload, Props: props, Title: ep.get("title")}, nil
	})
	if err != nil {
		return registryNotFound(key, err)
	}
	return s.writeRegistryEntry(w, r, e, http.StatusOK, "")
}

func (s *Server) deleteRegistered(w http.ResponseWriter, r *http.Request, key string) error {
	h := r.Header.Get("If-Match")
	err := s.st.RegistryDelete(r.Context(), key, func(cur store.RegistryEntry) error {
		if h != "" {
			return matchETag(h, cur.ETag)
		}
		return nil
	})
	if err != nil {
		return registryNotFound(key, err)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// ResolveRegistered asks the SData registry at registryURL for the endpoint
// titled title and returns its URL. registryURL is the endpoints collection
// (…/sdata/$system/registry/-/endpoints) or a provider's base URL (with or
// without /sdata), to which the registry path is added. client nil means
// http.DefaultClient. When no endpoint has the title the error wraps
// ErrNotRegistered; when several have it, the error lists their URLs.
func ResolveRegistered(ctx context.Context, client *http.Client, registryURL, title string) (string, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if strings.TrimSpace(title) == "" {
		return "", fmt.Errorf("sdata: resolve registered endpoint: empty title")
	}
	u, err := url.Parse(registryURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("sdata: registry URL %q is not an absolute http(s) URL", registryURL)
	}
	switch strings.TrimRight(u.Path, "/") {
	case "":
		u.Path = RegistryPath
	case "/sdata":
		u.Path = RegistryPath
	}
	u.RawPath = ""
	q := u.Query()
	q.Set("where", "title eq '"+strings.ReplaceAll(title, "'", "''")+"'")
	q.Set("count", "10")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("sdata: resolve %q: %w", title, err)
	}
	req.Header.Set("Accept", "application/atom+xml")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("sdata: registry at %s: %w", registryURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxBody+1))
	if err != nil {
		return "", fmt.Errorf("sdata: registry at %s: reading the answer: %w", registryURL, err)
	}
	lim := feeds.Limits{MaxBytes: DefaultMaxBody, MaxDepth: DefaultMaxDepth}
	if resp.StatusCode != http.StatusOK {
		msg := http.StatusText(resp.StatusCode)
		if ds, err := feeds.ParseDiagnoses(bytes.NewReader(body), lim); err == nil && len(ds) > 0 {
			msg = ds[0].Message
		}
		return "", fmt.Errorf("sdata: registry at %s answered %d: %s", registryURL, resp.StatusCode, msg)
	}
	f, err := feeds.ParseFeed(bytes.NewReader(body), lim)
	if err != nil {
		return "", fmt.Errorf("sdata: registry at %s: %w", registryURL, err)
	}
	var urls []string
	for _, e := range f.Entries {
		if e.Payload == nil {
			continue
		}
		if c := e.Payload.SelectElement("url"); c != nil && strings.TrimSpace(c.Text()) != "" {
			urls = append(urls, strings.TrimSpace(c.Text()))
		}
	}
	switch {
	case len(urls) == 0:
		return "", fmt.Errorf("%w: no endpoint titled %q in the registry at %s", ErrNotRegistered, title, registryURL)
	case len(urls) > 1 || f.TotalResults > 1:
		return "", fmt.Errorf("sdata: %d endpoints are titled %q in the registry at %s: %s", max(len(urls), f.TotalResults), title, registryURL, strings.Join(urls, ", "))
	}
	if _, err := url.Parse(urls[0]); err != nil {
		return "", fmt.Errorf("sdata: registry at %s: endpoint %q has a bad url %q", registryURL, title, urls[0])
	}
	return urls[0], nil
}
