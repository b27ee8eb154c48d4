// The HTTP the workload and the checks speak to the nodes: reads through
// the shared SData client (sdata/client); writes with If-Match by hand,
// because a refused write is reported with its whole answer (HTTPError).

package converge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/beevik/etree"

	"sdatasync/feeds"
	"sdatasync/sdata/client"
)

// item is a live resource as a node lists it.
type item struct {
	key, uuid, etag string
	el              *etree.Element
}

// HTTPError is a write the provider refused.
type HTTPError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *HTTPError) Error() string {
	b := e.Body
	if len(b) > 600 {
		b = b[:600] + "..."
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, b)
}

func (w *Workload) do(ctx context.Context, method, u string, body []byte, ifMatch string) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/xml")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	res, err := w.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		he := &HTTPError{Method: method, URL: u, Status: res.StatusCode, Body: string(b)}
		if res.StatusCode == http.StatusPreconditionFailed && ifMatch != "" {
			// Who changed the resource since it was read? The node's latest
			// sync log records say whether a sync job wrote meanwhile.
			he.Body += "\nlatest sync log records at the node: " + w.recentLog(ctx, u)
		}
		return b, he
	}
	return b, nil
}

// recentLog summarizes the last sync records of the $syncLog of the
// dataset of resource URL u (a diagnostic for unexpected 412s); the records
// of local writes (resource.*, link.*) are left out.
func (w *Workload) recentLog(ctx context.Context, u string) string {
	i := strings.LastIndex(u, "/") // u[:i] is the dataset URL
	if i < 0 {
		return "?"
	}
	res, err := reader(w.Client).Once(ctx, http.MethodGet, u[:i]+"/$syncLog?count=64", nil, "")
	if err != nil {
		return err.Error()
	}
	f, err := feeds.ParseFeed(bytes.NewReader(res.Body), feeds.Limits{})
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, e := range f.Entries {
		if e.Payload == nil {
			continue
		}
		field := func(name string) string {
			if c := e.Payload.SelectElement(name); c != nil {
				return c.Text()
			}
			return ""
		}
		op := field("operation")
		if strings.HasPrefix(op, "resource.") || strings.HasPrefix(op, "link.") {
			continue
		}
		out = append(out, fmt.Sprintf("[%s %s %s run=%s tracking=%s status=%s count=%s]", field("time"), field("kind"),
			op, field("runName"), field("trackingID"), field("httpStatus"), field("count")))
		if len(out) == 8 {
			break
		}
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, " ")
}

// listAll reads every live resource of kind at n, page by page.
func listAll(ctx context.Context, c *http.Client, n *Node, kind string) ([]item, error) {
	var out []item
	for start := 1; start < 1_000_000; {
		res, err := reader(c).Once(ctx, http.MethodGet, fmt.Sprintf("%s?startIndex=%d&count=1000", n.KindURL(kind), start), nil, "")
		if err != nil {
			return nil, err
		}
		b := res.Body
		f, err := feeds.ParseFeed(bytes.NewReader(b), feeds.Limits{MaxBytes: 64 << 20})
		if err != nil {
			return nil, fmt.Errorf("list %s at %s: %w", kind, n.Name, err)
		}
		for _, e := range f.Entries {
			if e.Payload == nil {
				continue
			}
			out = append(out, item{key: feeds.PayloadKey(e.Payload), uuid: feeds.PayloadUUID(e.Payload), etag: e.ETag, el: e.Payload})
		}
		start += len(f.Entries)
		if len(f.Entries) == 0 || f.TotalResults < 0 || start > f.TotalResults {
			break
		}
	}
	return out, nil
}

// reader is the SData client of the harness's reads: one attempt each (a
// read that fails is a finding, not something to retry).
func reader(hc *http.Client) *client.Client { return &client.Client{HTTP: hc, MaxAttempts: 1} }

// quote makes an If-Match value of an ETag as the provider gave it.
func quote(etag string) string {
	if etag == "" || strings.HasPrefix(etag, `"`) {
		return etag
	}
	return `"` + etag + `"`
}
