package feeds

import (
	"encoding/xml"
	"errors"
	"io"
	"strconv"

	"github.com/beevik/etree"

	"sdatasync/digest"
)

// ParseFeed parses an atom:feed document.
func ParseFeed(r io.Reader, lim Limits) (*Feed, error) {
	return parseDoc(r, lim, feedRoot)
}

// feedRoot reads the document element start as atom:feed.
func feedRoot(p *parser, start xml.StartElement) (*Feed, error) {
	if start.Name != (xml.Name{Space: AtomNS, Local: "feed"}) {
		return nil, wrongRoot(start, "atom:feed")
	}
	f, err := p.feed()
	if err != nil {
		return nil, err
	}
	if err := checkClaims(f); err != nil {
		return nil, err
	}
	return f, nil
}

// ScanFeed parses an atom:feed document like ParseFeed but builds no payload
// trees: every Entry.Payload is nil while Entry.UUID still names each
// resource, and the payloads are still checked for well-formedness and the
// limits. It suits readers that count entries or pass payloads on untouched
// (the sync engine, the result log), at a fraction of ParseFeed's cost.
func ScanFeed(r io.Reader, lim Limits) (*Feed, error) {
	return parseDoc(r, lim, func(p *parser, start xml.StartElement) (*Feed, error) {
		p.skimPayloads = true
		return feedRoot(p, start)
	})
}

// errHeadRead stops ScanFeedHead at the first entry.
var errHeadRead = errors.New("feeds: feed head read")

// ScanFeedHead reads the head of an atom:feed document: the children of
// the feed before its first atom:entry (id, title, links, sync and
// opensearch elements), and stops there: Entries stays empty and the rest
// of the document is neither read nor checked. It serves decisions that
// cannot wait for the whole document, which a full parse confirms later.
// Documents the fast scanner does not handle give an error.
func ScanFeedHead(data []byte, lim Limits) (*Feed, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, &LimitError{Limit: "MaxBytes", Max: lim.MaxBytes}
	}
	data, err := utf8Document(data)
	if err == nil {
		err = checkCharRefs(data)
	}
	if err != nil {
		return nil, err
	}
	p := newFastParser(data, lim)
	start, err := p.root()
	if err != nil {
		return nil, err
	}
	if start.Name != (xml.Name{Space: AtomNS, Local: "feed"}) {
		return nil, wrongRoot(start, "atom:feed")
	}
	f := &Feed{TotalResults: -1}
	p.push("feed")
	err = p.children(func(t xml.StartElement) error {
		if t.Name == (xml.Name{Space: AtomNS, Local: "entry"}) {
			return errHeadRead
		}
		return p.feedChild(f, t)
	})
	if err != nil && err != errHeadRead {
		return nil, err
	}
	return f, nil
}

// ParseEntry parses an atom:entry document.
func ParseEntry(r io.Reader, lim Limits) (*Entry, error) {
	return parseDoc(r, lim, entryRoot)
}

// entryRoot reads the document element start as atom:entry.
func entryRoot(p *parser, start xml.StartElement) (*Entry, error) {
	if start.Name != (xml.Name{Space: AtomNS, Local: "entry"}) {
		return nil, wrongRoot(start, "atom:entry")
	}
	return p.entry(0)
}

// ParseDigest accepts a bare sync:digest document, or an atom:entry whose
// sdata:payload holds sync:digest.
func ParseDigest(r io.Reader, lim Limits) (*digest.Digest, error) {
	return parseDoc(r, lim, digestRoot)
}

// digestRoot reads the document element start as sync:digest or as an
// atom:entry holding one.
func digestRoot(p *parser, start xml.StartElement) (*digest.Digest, error) {
	switch start.Name {
	case xml.Name{Space: SyncNS, Local: "digest"}:
		return p.digest()
	case xml.Name{Space: AtomNS, Local: "entry"}:
		e, err := p.entry(0)
		if err != nil {
			return nil, err
		}
		if e.Digest == nil {
			return nil, &FormatError{Path: "entry/payload", Msg: "entry has no sdata:payload holding a sync:digest"}
		}
		return e.Digest, nil
	}
	return nil, wrongRoot(start, "sync:digest or atom:entry")
}

// ParseDiagnoses parses an sdata:diagnoses document or a single
// sdata:diagnosis root.
func ParseDiagnoses(r io.Reader, lim Limits) ([]Diagnosis, error) {
	return parseDoc(r, lim, diagnosesRoot)
}

// diagnosesRoot reads the document element start as sdata:diagnoses or
// sdata:diagnosis.
func diagnosesRoot(p *parser, start xml.StartElement) ([]Diagnosis, error) {
	switch start.Name {
	case xml.Name{Space: SDataNS, Local: "diagnoses"}:
		p.push("diagnoses")
		var ds []Diagnosis
		err := p.diagnoses(&ds)
		return ds, err
	case xml.Name{Space: SDataNS, Local: "diagnosis"}:
		p.push("diagnosis")
		d, err := p.diagnosis()
		if err != nil {
			return nil, err
		}
		return []Diagnosis{d}, nil
	}
	return nil, wrongRoot(start, "sdata:diagnoses or sdata:diagnosis")
}

// ParseTracking parses an sdata:tracking document. The namespace
// http://schemas.sage.com/sdata/2008 (used by the spec's own example) is
// read as the sdata namespace.
func ParseTracking(r io.Reader, lim Limits) (*Tracking, error) {
	return parseDoc(r, lim, trackingRoot)
}

// trackingRoot reads the document element start as sdata:tracking.
func trackingRoot(p *parser, start xml.StartElement) (*Tracking, error) {
	if start.Name.Local != "tracking" || !isTrackingNS(start.Name.Space) {
		return nil, wrongRoot(start, "sdata:tracking")
	}
	return p.tracking()
}

// ParsePayload parses a bare resource element document (for example a PUT
// body that is not an Atom entry) and returns its root in the normal form
// that Entry.Payload also has: elements of the root's namespace are
// unprefixed and the root declares that namespace as its default (xmlns);
// names in the sdata and xsi namespaces use those prefixes; any other
// namespace gets a generated prefix ns1, ns2, ...; the root declares exactly
// the prefixes used and nothing else. Comments, processing instructions and
// whitespace-only text between child elements are dropped. The element has
// no parent.
func ParsePayload(r io.Reader, lim Limits) (*etree.Element, error) {
	return parseDoc(r, lim, payloadRoot)
}

// payloadRoot reads the document element start as a resource payload.
func payloadRoot(p *parser, start xml.StartElement) (*etree.Element, error) {
	return p.payloadElement(start, "")
}

// parseDoc runs fn on the root element of the document in r and checks that
// nothing follows the root. The document is read whole and parsed by the
// fast scanner; when that gives up (unusual constructs, malformed XML) or
// reading failed, it is parsed again with encoding/xml from the bytes read,
// which yields exactly the result (and error) of parsing r with
// encoding/xml directly.
func parseDoc[T any](r io.Reader, lim Limits, fn func(*parser, xml.StartElement) (T, error)) (T, error) {
	lim = lim.withDefaults()
	src := &limitReader{r: r, remaining: lim.MaxBytes}
	hint := 0
	if l, ok := r.(interface{ Len() int }); ok {
		hint = l.Len()
	}
	data, rerr := readDocument(src, hint)
	if rerr == nil {
		var err error
		if data, err = utf8Document(data); err == nil {
			err = checkCharRefs(data)
		}
		if err != nil {
			var zero T
			return zero, err
		}
		v, err := runParser(newFastParser(data, lim), fn)
		if err != errFallback {
			return v, err
		}
		rerr = io.EOF
	}
	return runParser(newParser(&replayReader{data: data, err: rerr}, lim), fn)
}

// runParser runs fn on the root element of p's document and checks that
// nothing follows the root.
func runParser[T any](p *parser, fn func(*parser, xml.StartElement) (T, error)) (T, error) {
	var zero T
	start, err := p.root()
	if err != nil {
		return zero, err
	}
	v, err := fn(p, start)
	if err != nil {
		return zero, err
	}
	if err := p.finish(); err != nil {
		return zero, err
	}
	return v, nil
}

func wrongRoot(start xml.StartElement, want string) error {
	return &FormatError{Path: start.Name.Local, Msg: "root element is " + qname(start.Name) + ", want " + want}
}

func isTrackingNS(ns string) bool { return ns == SDataNS || ns == sdataLegacyNS }

// feed parses the children of atom:feed up to its end tag.
func (p *parser) feed() (*Feed, error) {
	f := &Feed{TotalResults: -1}
	p.push("feed")
	err := p.children(func(t xml.StartElement) error { return p.feedChild(f, t) })
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (p *parser) feedChild(f *Feed, t xml.StartElement) error {
	var err error
	switch t.Name.Space {
	case AtomNS:
		switch t.Name.Local {
		case "id":
			f.ID, err = p.trimmed()
		case "title":
			f.Title, err = p.text()
		case "updated":
			f.Updated, err = p.timeVal("updated")
		case "link":
			var l Link
			l, err = p.link(t)
			f.Links = append(f.Links, l)
		case "entry":
			if len(f.Entries) >= p.lim.MaxEntries {
				return &LimitError{Limit: "MaxEntries", Max: int64(p.lim.MaxEntries)}
			}
			var e *Entry
			e, err = p.entry(len(f.Entries) + 1)
			f.Entries = append(f.Entries, e)
		default:
			err = p.skip()
		}
	case SyncNS:
		switch t.Name.Local {
		case "syncMode":
			f.SyncMode, err = p.trimmed()
		case "digest":
			f.Digest, err = p.digest()
		default:
			err = p.skip()
		}
	case OpenSearchNS:
		switch t.Name.Local {
		case "totalResults":
			f.TotalResults, err = p.countVal("totalResults")
		case "startIndex":
			f.StartIndex, err = p.countVal("startIndex")
		case "itemsPerPage":
			f.ItemsPerPage, err = p.countVal("itemsPerPage")
		default:
			err = p.skip()
		}
	default:
		err = p.skip()
	}
	return err
}

// entry parses the children of atom:entry up to its end tag; index is its
// position in the feed for the path in errors (0 outside a feed).
func (p *parser) entry(index int) (*Entry, error) {
	e := &Entry{}
	p.pushIndexed("entry", index)
	err := p.children(func(t xml.StartElement) error { return p.entryChild(e, t) })
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (p *parser) entryChild(e *Entry, t xml.StartElement) error {
	var err error
	switch t.Name.Space {
	case AtomNS:
		switch t.Name.Local {
		case "id":
			e.ID, err = p.trimmed()
		case "title":
			e.Title, err = p.text()
		case "content":
			e.Content, err = p.text()
		case "updated":
			e.Updated, err = p.timeVal("updated")
		case "link":
			var l Link
			l, err = p.link(t)
			e.Links = append(e.Links, l)
		default:
			err = p.skip()
		}
	case HTTPNS:
		switch t.Name.Local {
		case "httpMethod":
			e.HTTPMethod, err = p.trimmed()
		case "httpStatus":
			e.HTTPStatus, err = p.intVal("httpStatus")
		case "httpMessage":
			e.HTTPMessage, err = p.trimmed()
		case "location":
			e.Location, err = p.trimmed()
		case "etag":
			e.ETag, err = p.trimmed()
		case "ifMatch":
			e.IfMatch, err = p.trimmed()
		default:
			err = p.skip()
		}
	case SyncNS:
		if t.Name.Local == "syncState" {
			e.SyncState, err = p.syncState()
		} else {
			err = p.skip()
		}
	case SDataNS:
		switch t.Name.Local {
		case "payload":
			err = p.payload(e, t)
		case "diagnosis":
			p.push("diagnosis")
			var d Diagnosis
			d, err = p.diagnosis()
			e.Diagnoses = append(e.Diagnoses, d)
		case "diagnoses":
			p.push("diagnoses")
			err = p.diagnoses(&e.Diagnoses)
		default:
			err = p.skip()
		}
	default:
		err = p.skip()
	}
	return err
}

// link reads an atom:link element.
func (p *parser) link(t xml.StartElement) (Link, error) {
	var l Link
	for _, a := range t.Attr {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "rel":
			l.Rel = a.Value
		case "href":
			l.Href = a.Value
		case "type":
			l.Type = a.Value
		case "hreflang":
			l.HrefLang = a.Value
		case "title":
			l.Title = a.Value
		case "length":
			if n, err := strconv.ParseUint(trimXMLSpace(a.Value), 10, 0); err == nil {
				l.Length = uint(n)
			}
		}
	}
	return l, p.skip()
}

// payload reads sdata:payload: the first child element becomes e.Digest
// (sync:digest) or e.Payload (anything else); further children are ignored.
func (p *parser) payload(e *Entry, t xml.StartElement) error {
	e.Payload, e.Digest, e.UUID = nil, nil, ""
	uuid := ""
	for _, a := range t.Attr {
		if a.Name.Space == SDataNS && a.Name.Local == "uuid" {
			uuid = a.Value
		}
	}
	p.push("payload")
	return p.children(func(t xml.StartElement) error {
		var err error
		switch {
		case e.Payload != nil || e.Digest != nil:
			err = p.skip()
		case t.Name == xml.Name{Space: SyncNS, Local: "digest"}:
			e.Digest, err = p.digest()
		case p.skimPayloads:
			e.UUID = uuid
			for _, a := range t.Attr {
				if a.Name.Space == SDataNS && a.Name.Local == "uuid" {
					e.UUID = a.Value
				}
			}
			err = p.skip()
		default:
			if e.Payload, err = p.payloadElement(t, uuid); err == nil {
				e.UUID = PayloadUUID(e.Payload)
			}
		}
		return err
	})
}

// diagnoses appends the sdata:diagnosis children of the current element
// (path already pushed) to ds.
func (p *parser) diagnoses(ds *[]Diagnosis) error {
	return p.children(func(t xml.StartElement) error {
		if t.Name != (xml.Name{Space: SDataNS, Local: "diagnosis"}) {
			return p.skip()
		}
		p.pushIndexed("diagnosis", len(*ds)+1)
		d, err := p.diagnosis()
		if err != nil {
			return err
		}
		*ds = append(*ds, d)
		return nil
	})
}

// diagnosis parses the children of sdata:diagnosis (path already pushed).
func (p *parser) diagnosis() (Diagnosis, error) {
	var d Diagnosis
	err := p.children(func(t xml.StartElement) error {
		var err error
		if t.Name.Space != SDataNS {
			err = p.skip()
		} else {
			switch t.Name.Local {
			case "severity":
				d.Severity, err = p.trimmed()
			case "sdataCode":
				d.SDataCode, err = p.trimmed()
			case "applicationCode":
				d.ApplicationCode, err = p.trimmed()
			case "message":
				d.Message, err = p.text()
			case "payloadPath":
				d.PayloadPath, err = p.trimmed()
			default:
				err = p.skip()
			}
		}
		return err
	})
	return d, err
}

// tracking parses the children of sdata:tracking.
func (p *parser) tracking() (*Tracking, error) {
	tr := &Tracking{}
	p.push("tracking")
	err := p.children(func(t xml.StartElement) error {
		var err error
		if !isTrackingNS(t.Name.Space) {
			err = p.skip()
		} else {
			switch t.Name.Local {
			case "phase":
				tr.Phase, err = p.text()
			case "phaseDetail":
				tr.PhaseDetail, err = p.text()
			case "progress":
				tr.Progress, err = p.decimalVal("progress")
			case "elapsedSeconds":
				tr.ElapsedSeconds, err = p.intVal("elapsedSeconds")
			case "remainingSeconds":
				tr.RemainingSeconds, err = p.intVal("remainingSeconds")
			case "pollingMillis":
				tr.PollingMillis, err = p.intVal("pollingMillis")
			default:
				err = p.skip()
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return tr, nil
}
