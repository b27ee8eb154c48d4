// Devices: mobile devices as writers (issue 14), through the synchronize
// service of the node they are attached to.

package converge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
)

// deviceAlias is the mobile sync component the devices use at every node:
// trading accounts by reference, filtered by currency, with a conflict rule
// the seed picks.
const deviceAlias = "converge-accounts"

// deviceRules are the conflict rules a scenario's component may have (the
// seed picks one): rule, merge fallback, storeBusinessData.
var deviceRules = [][3]string{{"merge", "serverWins", "true"}, {"merge", "clientWins", "true"}, {"serverWins", "", "false"}, {"clientWins", "", "true"}}

func deviceComponent(rule [3]string) string {
	fallback := ""
	if rule[1] != "" {
		fallback = fmt.Sprintf(`"mergeFallback": %q, `, rule[1])
	}
	return fmt.Sprintf(`{"alias": %q, "kind": "tradingAccounts", "rowIdentifiers": ["reference"], "filterKeys": ["currency"],
		"conflictRule": %q, %s"storeBusinessData": %s, "apps": [{"name": "converge", "versions": ["*"]}]}`, deviceAlias, rule[0], fallback, rule[2])
}

// Device is one device attached to a node: its filter, its version and
// the rows it holds by uid.
type Device struct {
	Node    *Node
	ID      string
	Filter  []string // currencies
	version string
	rows    map[string]map[string]any
}

// Devices are the devices of a scenario. Not safe for concurrent use.
type Devices struct {
	List   []*Device
	Rand   *rand.Rand
	Client *http.Client
	Stats  Stats     // creates, updates and deletes the devices made
	Rule   [3]string // the component's conflict rule, merge fallback, storeBusinessData
	tag    string
	seq    int
}

// NewDevices registers the component at every node and attaches n devices
// to random nodes, each with a random filter.
func NewDevices(ctx context.Context, nodes []*Node, n int, rnd *rand.Rand, tag string) (*Devices, error) {
	ds := &Devices{Rand: rnd, Client: &http.Client{Timeout: 30 * time.Second, Transport: Transport()}, Stats: Stats{Creates: map[string]int{}}, tag: tag}
	ds.Rule = deviceRules[rnd.IntN(len(deviceRules))]
	for _, nd := range nodes {
		if _, err := ds.post(ctx, nd.BaseURL+"/sdata/$system/mobile/components", "application/json", []byte(deviceComponent(ds.Rule)), nil); err != nil {
			return nil, fmt.Errorf("component at %s: %w", nd.Name, err)
		}
	}
	for i := range n {
		var f []string
		for _, c := range []string{"EUR", "GBP", "USD"} {
			if rnd.IntN(2) == 0 {
				f = append(f, c)
			}
		}
		if len(f) == 0 {
			f = []string{"EUR"}
		}
		ds.List = append(ds.List, &Device{Node: nodes[rnd.IntN(len(nodes))], ID: fmt.Sprintf("%s-dev%d", tag, i), Filter: f, rows: map[string]map[string]any{}})
	}
	return ds, nil
}

func (ds *Devices) post(ctx context.Context, u, ctype string, body []byte, hdr map[string]string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ctype)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := ds.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 300 {
		return nil, &HTTPError{Method: http.MethodPost, URL: u, Status: res.StatusCode, Body: string(b)}
	}
	return b, nil
}

type deviceRow struct {
	MDataRow  map[string]any `json:"mDataRow"`
	UID       string         `json:"uid"`
	ActionID  string         `json:"actionId"`
	RowStatus string         `json:"rowStatus"`
	Message   string         `json:"message"`
}

// sync sends rows and takes the answer, page after page until nothing
// more remains.
func (ds *Devices) sync(ctx context.Context, d *Device, rows []map[string]any) error {
	for {
		in := map[string]any{
			"inputParams":  map[string]any{"mscAlias": deviceAlias, "lastVersion": d.version, "filter": map[string]any{"currency": d.Filter}, "pageSize": "50"},
			"inputPayload": rows,
		}
		body, _ := json.Marshal(in)
		b, err := ds.post(ctx, d.Node.BaseURL+"/invoke/wm.mobile.datasync/synchronize", "application/json", body,
			map[string]string{"X-Mobile-App-Name": "converge", "X-Mobile-App-Version": "1", "X-Mobile-Device-ID": d.ID})
		if err != nil {
			return err
		}
		var a struct {
			OutputPayload []deviceRow `json:"outputPayload"`
			OutputParams  struct {
				CurrentVersion, StatusCode, HasMore, Message string
			} `json:"outputParams"`
		}
		if err := json.Unmarshal(b, &a); err != nil {
			return fmt.Errorf("device %s: answer: %w", d.ID, err)
		}
		if a.OutputParams.StatusCode != "40" {
			return fmt.Errorf("device %s at %s: statusCode %s: %s", d.ID, d.Node.Name, a.OutputParams.StatusCode, a.OutputParams.Message)
		}
		for i, o := range a.OutputPayload {
			if i < len(rows) {
				ds.count(rows[i], o)
			}
			if o.RowStatus == "1" {
				return fmt.Errorf("device %s at %s: row %s failed: %s", d.ID, d.Node.Name, o.UID, o.Message)
			}
			if o.ActionID == "1" {
				delete(d.rows, o.UID)
			} else {
				d.rows[o.UID] = o.MDataRow
			}
		}
		d.version = a.OutputParams.CurrentVersion
		if a.OutputParams.HasMore != "true" {
			return nil
		}
		rows = nil
	}
}

// count adds what an input row did to the stats.
func (ds *Devices) count(in map[string]any, o deviceRow) {
	switch {
	case in["actionId"] == "0" && o.ActionID == "0" && o.RowStatus == "0":
		ds.Stats.Creates["tradingAccounts"]++
	case in["actionId"] == "2" && o.RowStatus != "1":
		ds.Stats.Updates++
	case in["actionId"] == "1" && o.RowStatus == "0":
		ds.Stats.Deletes++
	}
}

// Step lets a random device edit up to two rows it holds (or insert a new
// account, or delete one) and sync.
func (ds *Devices) Step(ctx context.Context) error {
	d := ds.List[ds.Rand.IntN(len(ds.List))]
	held := make([]string, 0, len(d.rows))
	for u := range d.rows {
		held = append(held, u)
	}
	slices.Sort(held)
	var rows []map[string]any
	for range ds.Rand.IntN(3) {
		switch r := ds.Rand.IntN(10); {
		case r < 6 && len(held) > 0:
			u := held[ds.Rand.IntN(len(held))]
			rec := map[string]any{}
			for k, v := range d.rows[u] {
				rec[k] = v
			}
			if ds.Rand.IntN(2) == 0 {
				rec["name"] = fmt.Sprintf("Device edit %s-%d", ds.tag, ds.seq)
			} else {
				rec["financeLimit"] = fmt.Sprint(1000 * ds.Rand.IntN(50))
			}
			ds.seq++
			rows = append(rows, map[string]any{"mDataRow": rec, "uid": u, "actionId": "2"})
		case r < 7 && len(held) > 0:
			rows = append(rows, map[string]any{"uid": held[ds.Rand.IntN(len(held))], "actionId": "1"})
		default:
			ds.seq++
			ref := fmt.Sprintf("TA-%s-%d", ds.tag, ds.seq)
			rows = append(rows, map[string]any{"actionId": "0", "mDataRow": map[string]any{"reference": ref, "name": "Device account " + ref,
				"active": "true", "currency": d.Filter[ds.Rand.IntN(len(d.Filter))]}})
		}
	}
	// Two rows of one request never name the same uid.
	seen := map[string]bool{}
	rows = slices.DeleteFunc(rows, func(r map[string]any) bool {
		u, _ := r["uid"].(string)
		dup := u != "" && seen[u]
		seen[u] = true
		return dup
	})
	return ds.sync(ctx, d, rows)
}

// Final syncs every device to the end, sending nothing.
func (ds *Devices) Final(ctx context.Context) error {
	for _, d := range ds.List {
		if err := ds.sync(ctx, d, nil); err != nil {
			return err
		}
	}
	return nil
}

// Check asserts that every device holds exactly the live trading accounts
// of its node that match its filter, with their current simple
// properties.
func (ds *Devices) Check(ctx context.Context, p *Problems) error {
	for _, d := range ds.List {
		items, err := listAll(ctx, ds.Client, d.Node, "tradingAccounts")
		if err != nil {
			return err
		}
		want := map[string]map[string]string{}
		for _, it := range items {
			cur := it.el.SelectElement("currency")
			ref := it.el.SelectElement("reference")
			if cur == nil || ref == nil || !slices.Contains(d.Filter, cur.Text()) {
				continue
			}
			fields := map[string]string{}
			for _, n := range []string{"name", "currency", "financeLimit"} {
				if e := it.el.SelectElement(n); e != nil {
					fields[n] = strings.TrimSpace(e.Text())
				}
			}
			want[ref.Text()] = fields
		}
		for uid, w := range want {
			got, ok := d.rows[uid]
			if !ok {
				p.Addf("device %s at %s lacks account %s", d.ID, d.Node.Name, uid)
				continue
			}
			for n, v := range w {
				if g := fmt.Sprint(got[n]); g != v {
					p.Addf("device %s at %s: account %s %s = %q, node %q", d.ID, d.Node.Name, uid, n, g, v)
				}
			}
		}
		for uid := range d.rows {
			if _, ok := want[uid]; !ok {
				p.Addf("device %s at %s holds account %s the node does not have under its filter", d.ID, d.Node.Name, uid)
			}
		}
	}
	return nil
}
