package console

import (
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// Field is one field of a field-level diff of two versions of a resource:
// its path in the payload (child elements joined by "/"; child items with
// an sdata:uuid named by it, other repeated elements numbered from 1;
// attributes after "@") and its value in each version.
type Field struct {
	Path    string `json:"path"`
	Winner  string `json:"winner"`
	Loser   string `json:"loser"`
	InWin   bool   `json:"inWinner"`
	InLose  bool   `json:"inLoser"`
	Differs bool   `json:"differs"`
}

// Diff compares two payloads (stored XML of the same kind) field by field:
// the winner's fields in their order, then those only the loser has. A
// payload that does not parse contributes no field.
func Diff(winner, loser string) []Field {
	w, l := flatten(winner), flatten(loser)
	lv := map[string]string{}
	for _, f := range l {
		lv[f[0]] = f[1]
	}
	seen := map[string]bool{}
	var out []Field
	for _, f := range w {
		v, ok := lv[f[0]]
		seen[f[0]] = true
		out = append(out, Field{Path: f[0], Winner: f[1], Loser: v, InWin: true, InLose: ok, Differs: !ok || v != f[1]})
	}
	for _, f := range l {
		if !seen[f[0]] {
			out = append(out, Field{Path: f[0], Loser: f[1], InLose: true, Differs: true})
		}
	}
	return out
}

// flatten lists the leaf fields of a payload as (path, value) pairs.
func flatten(xml string) [][2]string {
	if strings.TrimSpace(xml) == "" {
		return nil
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(xml); err != nil || doc.Root() == nil {
		return nil
	}
	var out [][2]string
	var walk func(el *etree.Element, prefix string)
	walk = func(el *etree.Element, prefix string) {
		for _, a := range el.Attr {
			if a.Space == "xmlns" || a.Key == "xmlns" {
				continue
			}
			out = append(out, [2]string{prefix + "@" + a.FullKey(), a.Value})
		}
		kids := el.ChildElements()
		if len(kids) == 0 {
			if prefix != "" {
				out = append(out, [2]string{strings.TrimSuffix(prefix, "/"), strings.TrimSpace(el.Text())})
			}
			return
		}
		count := map[string]int{}
		for _, k := range kids {
			count[k.Tag]++
		}
		n := map[string]int{}
		for _, k := range kids {
			name := k.Tag
			if u := k.SelectAttrValue("sdata:uuid", ""); u != "" && len(k.ChildElements()) > 0 {
				// A child item (lines of an order): matched by its UUID,
				// as merges match them.
				name += "[" + u + "]"
			} else if count[k.Tag] > 1 {
				n[k.Tag]++
				name += "[" + strconv.Itoa(n[k.Tag]) + "]"
			}
			walk(k, prefix+name+"/")
		}
	}
	walk(doc.Root(), "")
	return out
}
