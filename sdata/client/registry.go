package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"sdatasync/feeds"
)

// RegistryPath is the path of an SData registry's endpoints collection
// (SData core 14) at a provider.
const RegistryPath = "/sdata/$system/registry/-/endpoints"

// ErrNotRegistered is returned (wrapped) by ResolveRegistered when no
// endpoint has the title.
var ErrNotRegistered = errors.New("client: no such registered endpoint")

// ResolveRegistered asks the SData registry at registryURL for the endpoint
// titled title and returns its URL. registryURL is the registry's endpoints
// collection, or a provider's base URL (http://host or http://host/sdata),
// which stands for RegistryPath at that host. The registry is queried with
// where=title eq '…' (quotes doubled) and the request is retried like Do.
// When no endpoint has the title the error wraps ErrNotRegistered; when
// several have it, the error lists their URLs.
func (c *Client) ResolveRegistered(ctx context.Context, registryURL, title string) (string, error) {
	if strings.TrimSpace(title) == "" {
		return "", errors.New("client: resolve registered endpoint: empty title")
	}
	u, err := registryQuery(registryURL, title)
	if err != nil {
		return "", err
	}
	res, err := c.Do(ctx, http.MethodGet, u, nil, "")
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		return "", fmt.Errorf("client: registry at %s: %w", Redact(registryURL), err)
	}
	if res.Status != http.StatusOK {
		return "", fmt.Errorf("client: registry at %s answered %d %s instead of a feed", Redact(registryURL), res.Status, http.StatusText(res.Status))
	}
	f, err := feeds.ParseFeed(bytes.NewReader(res.Body), feeds.Limits{MaxBytes: c.maxBody()})
	if err != nil {
		return "", fmt.Errorf("client: registry at %s: %w", Redact(registryURL), err)
	}
	var urls []string
	for _, e := range f.Entries {
		if e.Payload == nil {
			continue
		}
		if el := e.Payload.SelectElement("url"); el != nil && strings.TrimSpace(el.Text()) != "" {
			urls = append(urls, strings.TrimSpace(el.Text()))
		}
	}
	switch {
	case len(urls) == 0:
		return "", fmt.Errorf("%w: no endpoint titled %q in the registry at %s", ErrNotRegistered, title, Redact(registryURL))
	case len(urls) > 1 || f.TotalResults > 1:
		return "", fmt.Errorf("client: %d endpoints are titled %q in the registry at %s: %s",
			max(len(urls), f.TotalResults), title, Redact(registryURL), redactAll(urls))
	}
	if _, err := url.Parse(urls[0]); err != nil {
		return "", fmt.Errorf("client: registry at %s: endpoint %q has a bad url %q", Redact(registryURL), title, Redact(urls[0]))
	}
	return urls[0], nil
}

// registryQuery returns the URL that lists the endpoints titled title at
// the registry registryURL (see ResolveRegistered for the forms accepted).
func registryQuery(registryURL, title string) (string, error) {
	u, err := url.Parse(registryURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("client: registry URL %q is not an absolute http(s) URL", Redact(registryURL))
	}
	switch strings.TrimRight(u.Path, "/") {
	case "", "/sdata":
		u.Path = RegistryPath
	}
	u.RawPath = ""
	q := u.Query()
	q.Set("where", "title eq '"+strings.ReplaceAll(title, "'", "''")+"'")
	q.Set("count", "10")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// redactAll joins URLs, each without its user:password part.
func redactAll(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = Redact(u)
	}
	return strings.Join(out, ", ")
}
