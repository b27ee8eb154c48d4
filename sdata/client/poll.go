package client

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"sdatasync/feeds"
)

// Await follows an asynchronous operation whose first answer is res: while
// the answer is 202 Accepted it waits what the tracking document's
// pollingMillis advises and GETs the Location it was given (the last one
// seen, with params added where the Location lacks them), retrying like Do.
// The wait is bounded by MinPoll..MaxPoll, except that the first poll
// follows the advice down to FirstPoll. onTrack, when set, receives every
// tracking document read. Await returns the final 2xx answer and the
// operation's Location ("" when res was already final: the operation was
// synchronous); the Location is returned with an error too, so that the
// caller can still free the job.
func (c *Client) Await(ctx context.Context, res *Response, params Params, onTrack func(*feeds.Tracking)) (*Response, string, error) {
	loc := ""
	for polls := 0; res.Status == http.StatusAccepted; polls++ {
		l, err := res.Location()
		if err != nil {
			return nil, loc, err
		}
		if l != "" {
			loc = l
		}
		if loc == "" {
			return nil, "", fmt.Errorf("%s answered 202 Accepted without a Location to poll", Redact(res.URL.String()))
		}
		advice := DefaultPoll
		if t, err := feeds.ParseTracking(bytes.NewReader(res.Body), feeds.Limits{}); err == nil {
			if t.PollingMillis > 0 {
				advice = time.Duration(t.PollingMillis) * time.Millisecond
			}
			if onTrack != nil {
				onTrack(t)
			}
		}
		if err := sleep(ctx, c.pollWait(advice, polls == 0)); err != nil {
			return nil, loc, err
		}
		pu, err := WithParams(loc, params)
		if err != nil {
			return nil, loc, err
		}
		if res, err = c.Do(ctx, http.MethodGet, pu, nil, ""); err != nil {
			return nil, loc, err
		}
	}
	return res, loc, nil
}

// pollWait is the wait before a poll: the provider's advice clamped to
// [MinPoll, MaxPoll], the floor being FirstPoll (if lower) for the first
// poll of a job.
func (c *Client) pollWait(advice time.Duration, first bool) time.Duration {
	floor := c.pollMin()
	if first {
		floor = min(floor, FirstPoll)
	}
	return min(max(advice, floor), c.pollMax())
}
