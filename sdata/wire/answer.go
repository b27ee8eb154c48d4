package wire

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sdatasync/feeds"
	"sdatasync/sdata/diag"
)

// Media types of SData answers.
const (
	TypeFeed  = "application/atom+xml; type=feed"
	TypeEntry = "application/atom+xml; type=entry"
	TypeXML   = "application/xml; charset=utf-8"
)

// NowUTC is the current time in UTC, to the millisecond (feed and entry
// updated stamps).
func NowUTC() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// WriteBytes writes a complete answer with its Content-Type and
// Content-Length.
func WriteBytes(w http.ResponseWriter, contentType string, status int, b []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}

// WriteJSON answers v as a JSON document (one line), never cached: the JSON
// APIs (admin, console, device sync) answer state that changes.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return WriteBytes(w, "application/json; charset=utf-8", status, append(b, '\n'))
}

// WriteEntry writes an entry document with its ETag header (when the entry
// has one) and Location (when given).
func WriteEntry(w http.ResponseWriter, status int, e *feeds.Entry, location string) error {
	var buf bytes.Buffer
	if err := feeds.WriteEntry(&buf, e); err != nil {
		return err
	}
	if e.ETag != "" {
		w.Header().Set("ETag", QuoteETag(e.ETag))
	}
	if location != "" {
		w.Header().Set("Location", location)
	}
	return WriteBytes(w, TypeEntry, status, buf.Bytes())
}

// WriteFeed writes a small, fully built feed.
func WriteFeed(w http.ResponseWriter, f *feeds.Feed) error {
	var buf bytes.Buffer
	if err := feeds.WriteFeed(&buf, f); err != nil {
		return err
	}
	return WriteBytes(w, TypeFeed, http.StatusOK, buf.Bytes())
}

// StreamFeed starts a feed answer written entry by entry.
func StreamFeed(w http.ResponseWriter, head *feeds.Feed) (*feeds.FeedWriter, error) {
	w.Header().Set("Content-Type", TypeFeed)
	return feeds.NewFeedWriter(w, head)
}

// NotModified answers 304 when the request's If-None-Match names etag.
func NotModified(w http.ResponseWriter, r *http.Request, etag string) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Trim(inm, `"`) == etag {
		w.Header().Set("ETag", QuoteETag(etag))
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

// QuoteETag quotes an ETag for the ETag header.
func QuoteETag(e string) string { return `"` + e + `"` }

// MatchETag checks an If-Match value (a list of quoted or bare tags, or *)
// against the current ETag. Our ETags are base64, so one may itself begin
// with "W/": a tag is compared as given first, and only then as a weak tag
// (W/ and its quotes taken off).
func MatchETag(h, cur string) error {
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.Trim(t, `"`) == cur {
			return nil
		}
		if w, ok := strings.CutPrefix(t, "W/"); ok && strings.Trim(w, `"`) == cur {
			return nil
		}
	}
	return diag.New(diag.PreconditionFailed,
		"the resource has changed: If-Match %s does not match its current ETag \"%s\"", h, cur)
}

// MatchAll checks every If-Match value against the current ETag.
func MatchAll(tags []string, cur string) error {
	for _, m := range tags {
		if err := MatchETag(m, cur); err != nil {
			return err
		}
	}
	return nil
}

// StatusWriter records the status of an answer, for logs and audit records.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records the first status.
func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 when no status was written.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the wrapper.
func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
