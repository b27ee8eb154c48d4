// Package feeds is the XML codec for SData documents: Atom feeds and entries
// carrying SData payloads, synchronization digests and sync states, HTTP
// result elements, diagnoses and tracking documents.
//
// Parsing is namespace-correct: elements are matched on namespace URI and
// local name whatever prefixes a client uses, unknown elements are ignored and
// every parser is bounded by Limits. Writing streams UTF-8 XML with fixed
// prefixes (Atom as the default namespace; sdata, sync, http, opensearch and
// xsi declared on the root). Resource payloads are exposed as normalized
// etree elements (see ParsePayload). The package knows nothing of HTTP or SQL.
package feeds

import (
	"time"

	"github.com/beevik/etree"
	"golang.org/x/tools/blog/atom"

	"sdatasync/digest"
)

// Namespace URIs of the documents handled by this package.
const (
	// AtomNS is the Atom syndication format namespace.
	AtomNS = "http://www.w3.org/2005/Atom"
	// SDataNS is the SData core namespace (payload, diagnoses, tracking, ...).
	SDataNS = "http://schemas.sage.com/sdata/2008/1"
	// SyncNS is the SData synchronization namespace (digest, syncState, syncMode).
	SyncNS = "http://schemas.sage.com/sdata/sync/2008/1"
	// HTTPNS is the SData namespace of HTTP elements inside entries.
	HTTPNS = "http://schemas.sage.com/sdata/http/2008/1"
	// OpenSearchNS is the OpenSearch 1.1 namespace (paging elements).
	OpenSearchNS = "http://a9.com/-/spec/opensearch/1.1/"
	// XSINS is the XML Schema instance namespace (xsi:nil).
	XSINS = "http://www.w3.org/2001/XMLSchema-instance"
)

// sdataLegacyNS is the namespace the SData spec's own tracking example uses;
// it is read as SDataNS for tracking documents.
const sdataLegacyNS = "http://schemas.sage.com/sdata/2008"

// xmlNS is the namespace bound to the reserved prefix "xml".
const xmlNS = "http://www.w3.org/XML/1998/namespace"

// Diagnosis is one sdata:diagnosis: an error, warning or note about a request
// or about one entry of a batch.
type Diagnosis struct {
	Severity        string // info|warning|transient|error|fatal
	SDataCode       string // e.g. BadUrlSyntax, ResourceKindNotFound, ApplicationDiagnosis
	ApplicationCode string
	Message         string
	PayloadPath     string
}

// Tracking is the sdata:tracking document returned while an asynchronous
// operation runs.
type Tracking struct {
	Phase, PhaseDetail string
	Progress           float64 // 0..100
	ElapsedSeconds     int
	RemainingSeconds   int
	PollingMillis      int
}

// Link is one atom:link. It has exactly the fields of the Atom link of
// golang.org/x/tools/blog/atom (a Link converts to an atom.Link and back),
// so callers build links without importing that package.
type Link atom.Link

// Entry is one Atom entry with its SData, HTTP and sync extensions.
type Entry struct {
	ID, Title, Content string
	Updated            time.Time
	Links              []Link
	HTTPMethod         string // http:httpMethod
	HTTPStatus         int    // http:httpStatus, 0 = absent
	HTTPMessage        string
	Location           string            // http:location
	ETag               string            // http:etag
	IfMatch            string            // http:ifMatch
	SyncState          *digest.SyncState // sync:syncState
	Diagnoses          []Diagnosis       // sdata:diagnosis children of the entry (direct or inside sdata:diagnoses)
	Payload            *etree.Element    // the resource element inside sdata:payload, normalized; nil if none
	// RawPayload, when set, is written inside sdata:payload as is, instead of
	// Payload: a resource element already serialized, well-formed and
	// declaring the namespaces it uses. Writers set it to spare building a
	// tree; parsers never set it.
	RawPayload []byte
	Digest     *digest.Digest // set instead of Payload when sdata:payload holds sync:digest
	// UUID is the sdata:uuid of the resource in sdata:payload (on the
	// resource element or on sdata:payload itself), "" if none. Parsers set
	// it, also when they build no payload tree (ScanFeed); writers ignore it.
	UUID string
}

// Feed is an Atom feed with its SData, OpenSearch and sync extensions.
type Feed struct {
	ID, Title    string
	Updated      time.Time
	Links        []Link
	SyncMode     string         // sync:syncMode (catchUp|immediate), "" if absent
	Digest       *digest.Digest // sync:digest of the feed, nil if absent
	TotalResults int            // opensearch:totalResults, -1 if absent
	StartIndex   int            // opensearch:startIndex, 0 if absent
	ItemsPerPage int            // opensearch:itemsPerPage, 0 if absent
	Entries      []*Entry
}

// Link returns the first link of the feed with relation rel.
func (f *Feed) Link(rel string) (Link, bool) {
	return findLink(f.Links, rel)
}

// Link returns the first link of the entry with relation rel.
func (e *Entry) Link(rel string) (Link, bool) {
	return findLink(e.Links, rel)
}

func findLink(links []Link, rel string) (Link, bool) {
	for _, l := range links {
		if l.Rel == rel {
			return l, true
		}
	}
	return Link{}, false
}

// PayloadUUID returns the sdata:uuid attribute of a normalized payload
// element, "" if it has none (or p is nil).
func PayloadUUID(p *etree.Element) string {
	return attrValue(p, "sdata", "uuid")
}

// PayloadKey returns the sdata:key attribute of a normalized payload element,
// "" if it has none (or p is nil).
func PayloadKey(p *etree.Element) string {
	return attrValue(p, "sdata", "key")
}

// IsDeleted reports whether a normalized payload element is marked
// sdata:isDeleted="true".
func IsDeleted(p *etree.Element) bool {
	return isTrue(attrValue(p, "sdata", "isDeleted"))
}

// IsNil reports whether a normalized element is marked xsi:nil="true".
func IsNil(e *etree.Element) bool {
	return isTrue(attrValue(e, "xsi", "nil"))
}

func attrValue(e *etree.Element, space, key string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attr {
		if a.Space == space && a.Key == key {
			return a.Value
		}
	}
	return ""
}

// isTrue interprets an xs:boolean lexical value.
func isTrue(s string) bool {
	switch trimXMLSpace(s) {
	case "true", "1":
		return true
	}
	return false
}
