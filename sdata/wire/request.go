// Package wire reads SData requests and writes SData answers: request
// bodies within their limits and media types, resource payloads (a bare
// element or an atom:entry), query parameters, paging and its links, run
// parameters, entries and feeds with their headers, and ETags. It holds no
// state and makes no protocol decisions.
package wire

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
)

// ReadBody reads a request body within max bytes, after checking its media
// type. An empty Content-Type is taken as XML; an empty body is refused.
func ReadBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !xmlMediaType(mt) {
			return nil, diag.New(diag.UnsupportedMediaType,
				"unsupported media type %q: send application/atom+xml or application/xml", ct)
		}
	}
	body, err := ReadLimited(w, r, max)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, diag.New(diag.BadRequest, "the request body is empty: an XML document was expected")
	}
	return body, nil
}

// ReadLimited reads a request body within max bytes: 413 above it, 400 when
// it cannot be read. Callers check the media type and emptiness.
func ReadLimited(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, diag.New(diag.TooLarge, "request body over the limit of %d bytes", max)
	}
	if err != nil {
		return nil, diag.New(diag.BadRequest, "reading the request body: %v", err)
	}
	return body, nil
}

func xmlMediaType(mt string) bool {
	switch mt {
	case "application/atom+xml", "application/xml", "text/xml":
		return true
	}
	return strings.HasSuffix(mt, "+xml")
}

// RootName returns the namespace and local name of a document's root
// element (after a byte-order mark, if any).
func RootName(body []byte) (xml.Name, error) {
	n, err := feeds.RootName(body)
	if err != nil {
		return n, diag.New(diag.BadRequest, "malformed XML: %v", err)
	}
	return n, nil
}

// DecodeResource reads a resource payload from a body that is either an
// atom:entry with sdata:payload or the bare resource element. It returns the
// normalized payload element and the entry (nil for a bare payload).
func DecodeResource(body []byte, lim feeds.Limits) (*etree.Element, *feeds.Entry, error) {
	name, err := RootName(body)
	if err != nil {
		return nil, nil, err
	}
	if name.Space == feeds.AtomNS && name.Local == "entry" {
		e, err := feeds.ParseEntry(bytes.NewReader(body), lim)
		if err != nil {
			return nil, nil, err
		}
		if e.Payload == nil {
			return nil, nil, diag.Payload("entry/payload", "the entry has no sdata:payload holding a resource")
		}
		return e.Payload, e, nil
	}
	p, err := feeds.ParsePayload(bytes.NewReader(body), lim)
	return p, nil, err
}

// QueryParam returns a query parameter matched case-insensitively, as real
// SData engines spell parameter names loosely.
func QueryParam(q url.Values, name string) string {
	if v, ok := q[name]; ok && len(v) > 0 {
		return v[0]
	}
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// IfMatch collects the If-Match values of a write: the header and, when the
// body was an entry, its http:ifMatch.
func IfMatch(r *http.Request, entry *feeds.Entry) []string {
	var tags []string
	if h := r.Header.Get("If-Match"); h != "" {
		tags = append(tags, h)
	}
	if entry != nil && entry.IfMatch != "" {
		tags = append(tags, entry.IfMatch)
	}
	return tags
}

// Run is the run and tracking context of a sync or batch request (the
// runName, runStamp and trackingID query parameters).
type Run struct {
	Name, Stamp, Tracking string
	StampTime             time.Time // Stamp parsed when it is ISO 8601, else zero
}

// RunOf reads the run parameters of a request.
func RunOf(r *http.Request) Run {
	q := r.URL.Query()
	ru := Run{Name: QueryParam(q, "runName"), Stamp: QueryParam(q, "runStamp"), Tracking: QueryParam(q, "trackingID")}
	ru.StampTime = ParseRunStamp(ru.Stamp)
	return ru
}

// ParseRunStamp parses a runStamp when it is ISO 8601 (zero otherwise).
func ParseRunStamp(s string) time.Time {
	t, _ := feeds.ParseTime(s)
	return t
}

// KeepRunParams keeps only the run parameters of q, for page links.
func KeepRunParams(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		if strings.EqualFold(k, "runName") || strings.EqualFold(k, "runStamp") {
			out[k] = v
		}
	}
	return out
}
