package sdata

// Temporary: ResolveRegistered moves to the SData client package.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"sdatasync/feeds"
	"sdatasync/sdata/registry"
)

// ErrNotRegistered is returned (wrapped) by ResolveRegistered when no
// endpoint has the title.
var ErrNotRegistered = errors.New("sdata: no such registered endpoint")

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
		u.Path = registry.Path
	case "/sdata":
		u.Path = registry.Path
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
