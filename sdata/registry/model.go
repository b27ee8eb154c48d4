// Package registry serves the endpoint registry (SData core 14) at
// /sdata/$system/registry/-/endpoints: its model (the endpoint payload of
// registry.xsd, validated, normalized and rendered) and its handlers.
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
//
// Conflict priority: a property conflictPriority (1..9) in the same
// namespace configures the priority this provider gives the versions of
// the endpoints at or below the registered URL, whatever a sync feed
// claims for them (Service.Priorities).
package registry

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"sdatasync/digest"
	"sdatasync/feeds"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/payload"
	"sdatasync/sdata/query"
)

// Registry namespaces and values.
const (
	// NS is the namespace of registry payloads (registry.xsd).
	NS = "http://schemas.sage.com/sdata/registry/2009"
	// ExtNS is the ns of this provider's custom endpoint properties.
	ExtNS = "urn:sdatasync:registry"
	// Path is the path of the registry's endpoints collection.
	Path = "/sdata/$system/registry/-/endpoints"

	// Sync roles of a registered endpoint (the syncRole property).
	SyncRoleSource = "source"
	SyncRoleTarget = "target"
	SyncRoleBoth   = "both"

	// Endpoint types of registry.xsd.
	EndpointTypeApplication = "application"
	EndpointTypeContract    = "contract"
	EndpointTypeDataSet     = "dataSet"
)

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

// Custom properties of registered endpoints (namespace ExtNS).
const (
	syncRoleProp = "syncRole"
	// priorityProp configures the conflict priority (1..9) this provider
	// gives the versions of the endpoints at and below the endpoint's URL,
	// whatever a feed claims (issue 12).
	priorityProp = "conflictPriority"
)

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

// resolver maps where/orderBy names to the JSON props of entries.
func resolver(path string) (string, query.Type, error) {
	if path == syncRoleProp {
		return `json_extract(r.props, '$."syncRole"')`, query.String, nil
	}
	if path == priorityProp {
		return `json_extract(r.props, '$."conflictPriority"')`, query.Integer, nil
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

func (e *regEndpoint) syncRole() (string, int) { return e.prop(syncRoleProp) }

// prop returns the value and index of a custom property in ExtNS ("", -1
// when absent).
func (e *regEndpoint) prop(name string) (string, int) {
	for i, p := range e.props {
		if p.name == name && p.ns == ExtNS {
			return p.value, i
		}
	}
	return "", -1
}

// parseRegistryPayload checks the structure of an endpoint element.
func parseRegistryPayload(el *etree.Element) (*regEndpoint, error) {
	if el.Tag != "endpoint" || el.Space != "" {
		return nil, diag.Payload(el.Tag, "the payload element is %q; a registry entry must be an <endpoint> element in %s", el.FullTag(), NS)
	}
	if ns := el.SelectAttrValue("xmlns", ""); ns != "" && ns != NS {
		return nil, diag.Payload("endpoint", "the payload namespace %q is not the registry's (%s)", ns, NS)
	}
	ep := &regEndpoint{vals: map[string]*string{}}
	for _, ch := range el.ChildElements() {
		path := "endpoint/" + ch.Tag
		if ch.Space != "" {
			return nil, diag.Payload("endpoint/"+ch.FullTag(), "unknown element %s: registry endpoints take only the elements of registry.xsd", ch.FullTag())
		}
		if ch.Tag == "properties" {
			if ep.hasPr {
				return nil, diag.Payload(path, "properties given twice")
			}
			ep.hasPr = true
			for i, p := range ch.ChildElements() {
				pp := fmt.Sprintf("%s/property[%d]", path, i+1)
				if p.Tag != "property" || p.Space != "" {
					return nil, diag.Payload(pp, "unknown element %s in properties", p.FullTag())
				}
				if len(p.ChildElements()) > 0 {
					return nil, diag.Payload(pp, "a property holds text only")
				}
				name := strings.TrimSpace(p.SelectAttrValue("name", ""))
				if name == "" {
					return nil, diag.Payload(pp+"/@name", "a property needs a name attribute")
				}
				ep.props = append(ep.props, regProperty{name: name, ns: p.SelectAttrValue("ns", ""), value: p.Text()})
			}
			continue
		}
		if _, ok := findRegistryField(ch.Tag); !ok {
			return nil, diag.Payload(path, "unknown element %s: registry endpoints take only the elements of registry.xsd", ch.Tag)
		}
		if ep.has(ch.Tag) {
			return nil, diag.Payload(path, "%s given twice", ch.Tag)
		}
		if len(ch.ChildElements()) > 0 {
			return nil, diag.Payload(path, "%s is a simple value", ch.Tag)
		}
		if feeds.IsNil(ch) {
			if !slices.Contains(registryNillable, ch.Tag) {
				return nil, diag.Payload(path, "%s is not nillable", ch.Tag)
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
	// The endpoint URLs of digests and sync states follow the same rule.
	if err := digest.ValidEndpoint(strings.TrimSpace(raw)); err != nil {
		return "", fmt.Errorf("the url %v", err)
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
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
		return diag.Payload("endpoint/title", "title is required")
	}
	if ep.get("url") == "" {
		return diag.Payload("endpoint/url", "url is required")
	}
	cu, err := canonicalURL(ep.get("url"))
	if err != nil {
		return diag.Payload("endpoint/url", "%v", err)
	}
	ep.set("url", cu)
	d := derived(cu)
	for _, n := range []string{"protocol", "host", "port"} {
		if v := ep.get(n); ep.has(n) && v != "" && !strings.EqualFold(v, d[n]) {
			return diag.Payload("endpoint/"+n, "%s %q contradicts the url %s", n, v, cu)
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
		return diag.Payload("endpoint/endpointType", "endpointType is required when the url does not have the form .../sdata/{application}[/{contract}[/{dataSet}]]")
	default:
		return diag.Payload("endpoint/endpointType", "endpointType %q is not one of application, contract, dataSet", t)
	}
	if ep.has("isBrowsable") {
		switch ep.get("isBrowsable") {
		case "true", "1":
			ep.set("isBrowsable", "true")
		case "false", "0":
			ep.set("isBrowsable", "false")
		default:
			return diag.Payload("endpoint/isBrowsable", "isBrowsable %q is not a boolean", ep.get("isBrowsable"))
		}
	}
	if v := ep.get("aliveStamp"); v != "" {
		t, err := feeds.ParseTime(v)
		if err != nil {
			return diag.Payload("endpoint/aliveStamp", "aliveStamp %q is not an xs:dateTime", v)
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
			ep.props = append(ep.props, regProperty{name: syncRoleProp, ns: ExtNS, value: SyncRoleBoth})
		}
	default:
		return diag.Payload(fmt.Sprintf("endpoint/properties/property[%d]", i+1), "syncRole %q is not one of source, target, both", role)
	}
	if v, i := ep.prop(priorityProp); i >= 0 {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err == nil {
			err = digest.ValidPriority(n)
		}
		if err != nil {
			return diag.Payload(fmt.Sprintf("endpoint/properties/property[%d]", i+1), "conflictPriority %q is not an integer in 1..9", v)
		}
		ep.props[i].value = strconv.Itoa(n)
	}
	return nil
}

// render builds the canonical payload and the JSON query props of ep.
func (ep *regEndpoint) render() (stored, props []byte, err error) {
	root := etree.NewElement("endpoint")
	root.CreateAttr("xmlns", NS)
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
				return nil, nil, diag.Payload("endpoint/"+f.name, "%s %q is not an integer", f.name, *v)
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
	if v, i := ep.prop(priorityProp); i >= 0 {
		n, _ := strconv.Atoi(v) // validated by normalize
		m[priorityProp] = n
	}
	payload.DeclarePrefixes(root)
	stored = payload.Render(root)
	if props, err = json.Marshal(m); err != nil {
		return nil, nil, err
	}
	return stored, props, nil
}
