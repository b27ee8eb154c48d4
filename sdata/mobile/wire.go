package mobile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The synchronize service's two body formats, JSON and XML, with the same
// element names:
//
//	{"inputParams": {"mscAlias": "accounts", "lastVersion": "", "filter": {"currency": ["EUR", "GBP"]}},
//	 "inputPayload": [{"mDataRow": {"reference": "A1", "name": "Acme"}, "uid": "", "actionId": "0"}]}
//
//	<synchronize>
//	  <inputParams><mscAlias>accounts</mscAlias><lastVersion/>
//	    <filter><currency>EUR</currency><currency>GBP</currency></filter></inputParams>
//	  <inputPayload><mDataRow><reference>A1</reference><name>Acme</name></mDataRow><uid/><actionId>0</actionId></inputPayload>
//	</synchronize>
//
// The answer has outputPayload rows (mDataRow, uid, actionId, rowStatus,
// and message when a row failed) written first, as they stream, then
// outputParams (currentVersion, statusCode, hasMore, and message when the
// request was refused). Values are strings; a null field is JSON null or
// an XML element with nil="true". In XML, inputPayload and outputPayload
// repeat once per row.

// Format is a body format.
type Format int

// The formats.
const (
	JSON Format = iota
	XML
)

// MaxDepth is the deepest nesting a request body may have (a row's
// fields are at depth 4; records hold simple values only).
const MaxDepth = 8

// Decoded is a decoded synchronize request body.
type Decoded struct {
	Alias       string
	LastVersion string
	Filter      Filter
	PageSize    int
	Rows        []InputRow
}

// DecodeError says why a body is not a synchronize request (a 400).
type DecodeError struct{ Msg string }

func (e *DecodeError) Error() string { return e.Msg }

func bad(format string, args ...any) error { return &DecodeError{fmt.Sprintf(format, args...)} }

// Decode reads a request body. maxRows and maxFields bound the rows and
// the fields of one record; beyond them the error names the limit.
func Decode(f Format, body []byte, maxRows, maxFields int) (Decoded, error) {
	var d Decoded
	var err error
	if f == XML {
		d, err = decodeXML(body, maxRows, maxFields)
	} else {
		d, err = decodeJSON(body, maxRows, maxFields)
	}
	if err != nil {
		return Decoded{}, err
	}
	if strings.TrimSpace(d.Alias) == "" {
		return Decoded{}, bad("inputParams/mscAlias is required")
	}
	return d, nil
}

// jsonDepth is the deepest nesting of objects and arrays in a JSON text
// (strings skipped), for refusing deep documents before decoding them.
func jsonDepth(b []byte) int {
	depth, most, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			most = max(most, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return most
}

// flexString is a JSON string, number or boolean, read as text.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	switch x := v.(type) {
	case nil:
		*s = ""
	case string:
		*s = flexString(x)
	case json.Number:
		*s = flexString(x.String())
	case bool:
		*s = flexString(strconv.FormatBool(x))
	default:
		return errors.New("a string was expected")
	}
	return nil
}

// flexStrings is one value or a list of values.
type flexStrings []string

func (s *flexStrings) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var list []flexString
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*s = nil
		for _, v := range list {
			*s = append(*s, string(v))
		}
		return nil
	}
	var one flexString
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*s = []string{string(one)}
	return nil
}

type jsonBody struct {
	InputParams *struct {
		MscAlias    flexString             `json:"mscAlias"`
		LastVersion flexString             `json:"lastVersion"`
		Filter      map[string]flexStrings `json:"filter"`
		PageSize    flexString             `json:"pageSize"`
	} `json:"inputParams"`
	InputPayload []struct {
		MDataRow json.RawMessage `json:"mDataRow"`
		UID      flexString      `json:"uid"`
		ActionID *flexString     `json:"actionId"`
	} `json:"inputPayload"`
}

func decodeJSON(body []byte, maxRows, maxFields int) (Decoded, error) {
	if d := jsonDepth(body); d > MaxDepth {
		return Decoded{}, bad("the body nests %d levels deep; at most %d (records hold simple values)", d, MaxDepth)
	}
	var jb jsonBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&jb); err != nil {
		return Decoded{}, bad("the body is not a synchronize request: %v", err)
	}
	if dec.More() {
		return Decoded{}, bad("the body holds more than one JSON value")
	}
	if jb.InputParams == nil {
		return Decoded{}, bad("inputParams is required")
	}
	ip := jb.InputParams
	d := Decoded{Alias: string(ip.MscAlias), LastVersion: string(ip.LastVersion)}
	if ip.Filter != nil {
		d.Filter = Filter{}
		for k, v := range ip.Filter {
			d.Filter[k] = v
		}
	}
	if ip.PageSize != "" {
		n, err := strconv.Atoi(string(ip.PageSize))
		if err != nil || n < 0 {
			return Decoded{}, bad("inputParams/pageSize %q: a number >= 0", ip.PageSize)
		}
		d.PageSize = n
	}
	if len(jb.InputPayload) > maxRows {
		return Decoded{}, bad("inputPayload holds %d rows; at most %d in one request", len(jb.InputPayload), maxRows)
	}
	for i, r := range jb.InputPayload {
		row := InputRow{UID: string(r.UID)}
		if r.ActionID == nil {
			return Decoded{}, bad("inputPayload[%d]/actionId is required", i)
		}
		a, err := actionID(string(*r.ActionID))
		if err != nil {
			return Decoded{}, bad("inputPayload[%d]/actionId: %v", i, err)
		}
		row.ActionID = a
		if len(r.MDataRow) > 0 && string(r.MDataRow) != "null" {
			if err := json.Unmarshal(r.MDataRow, &row.Record); err != nil {
				return Decoded{}, bad("inputPayload[%d]/mDataRow: %v", i, err)
			}
		}
		if len(row.Record) > maxFields {
			return Decoded{}, bad("inputPayload[%d]/mDataRow holds %d fields; at most %d", i, len(row.Record), maxFields)
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

func actionID(s string) (int, error) {
	switch strings.TrimSpace(s) {
	case "0":
		return ActInsert, nil
	case "1":
		return ActDelete, nil
	case "2":
		return ActUpdate, nil
	}
	return 0, fmt.Errorf("%q: 0 (insert), 1 (delete) or 2 (update)", s)
}

// xmlNode is an element of a small XML document, read with a depth bound.
type xmlNode struct {
	name string
	nil  bool
	text strings.Builder
	kids []*xmlNode
}

func (n *xmlNode) child(name string) *xmlNode {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

func (n *xmlNode) value(name string) string {
	if c := n.child(name); c != nil {
		return strings.TrimSpace(c.text.String())
	}
	return ""
}

func parseXML(body []byte) (*xmlNode, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var stack []*xmlNode
	var root *xmlNode
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bad("the body is not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= MaxDepth {
				return nil, bad("the body nests deeper than %d elements (records hold simple values)", MaxDepth)
			}
			n := &xmlNode{name: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Local == "nil" && (a.Value == "true" || a.Value == "1") {
					n.nil = true
				}
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, bad("the body has more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, bad("the body has no root element")
	}
	return root, nil
}

func decodeXML(body []byte, maxRows, maxFields int) (Decoded, error) {
	root, err := parseXML(body)
	if err != nil {
		return Decoded{}, err
	}
	ip := root.child("inputParams")
	if ip == nil {
		return Decoded{}, bad("inputParams is required")
	}
	d := Decoded{Alias: ip.value("mscAlias"), LastVersion: ip.value("lastVersion")}
	if f := ip.child("filter"); f != nil {
		d.Filter = Filter{}
		for _, k := range f.kids {
			d.Filter[k.name] = append(d.Filter[k.name], strings.TrimSpace(k.text.String()))
		}
	}
	if ps := ip.value("pageSize"); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 0 {
			return Decoded{}, bad("inputParams/pageSize %q: a number >= 0", ps)
		}
		d.PageSize = n
	}
	i := 0
	for _, r := range root.kids {
		if r.name != "inputPayload" {
			continue
		}
		if i++; i > maxRows {
			return Decoded{}, bad("inputPayload holds more than %d rows; at most %d in one request", maxRows, maxRows)
		}
		a := r.child("actionId")
		if a == nil {
			return Decoded{}, bad("inputPayload[%d]/actionId is required", i-1)
		}
		act, err := actionID(a.text.String())
		if err != nil {
			return Decoded{}, bad("inputPayload[%d]/actionId: %v", i-1, err)
		}
		row := InputRow{ActionID: act, UID: r.value("uid")}
		if m := r.child("mDataRow"); m != nil {
			if len(m.kids) > maxFields {
				return Decoded{}, bad("inputPayload[%d]/mDataRow holds %d fields; at most %d", i-1, len(m.kids), maxFields)
			}
			for _, fl := range m.kids {
				if len(fl.kids) > 0 {
					return Decoded{}, bad("inputPayload[%d]/mDataRow/%s: a record holds simple values, not elements", i-1, fl.name)
				}
				row.Record = append(row.Record, Field{Name: fl.name, Value: fl.text.String(), Null: fl.nil})
			}
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

// Encoder writes a synchronize answer: rows as they come, then the
// outputParams.
type Encoder struct {
	f       Format
	w       *bufio.Writer
	flush   http.Flusher
	n       int
	started bool
}

// NewEncoder writes an answer in format f to w (flushed every 256 rows
// when w can flush).
func NewEncoder(f Format, w io.Writer) *Encoder {
	e := &Encoder{f: f, w: bufio.NewWriterSize(w, 32<<10)}
	e.flush, _ = w.(http.Flusher)
	return e
}

func (e *Encoder) start() {
	if e.started {
		return
	}
	e.started = true
	if e.f == XML {
		e.w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<synchronizeResponse>")
	} else {
		e.w.WriteString(`{"outputPayload":[`)
	}
}

func xmlText(w *bufio.Writer, s string) { xml.EscapeText(w, []byte(s)) }

func jsonString(w *bufio.Writer, s string) {
	b, _ := json.Marshal(s)
	w.Write(b)
}

// Row writes one outputPayload row.
func (e *Encoder) Row(o OutputRow) error {
	e.start()
	if e.f == XML {
		e.w.WriteString("<outputPayload><mDataRow>")
		for _, f := range o.Record {
			if f.Null {
				e.w.WriteString("<" + f.Name + ` nil="true"/>`)
				continue
			}
			e.w.WriteString("<" + f.Name + ">")
			xmlText(e.w, f.Value)
			e.w.WriteString("</" + f.Name + ">")
		}
		e.w.WriteString("</mDataRow><uid>")
		xmlText(e.w, o.UID)
		fmt.Fprintf(e.w, "</uid><actionId>%d</actionId><rowStatus>%d</rowStatus>", o.ActionID, o.RowStatus)
		if o.Message != "" {
			e.w.WriteString("<message>")
			xmlText(e.w, o.Message)
			e.w.WriteString("</message>")
		}
		e.w.WriteString("</outputPayload>")
	} else {
		if e.n > 0 {
			e.w.WriteByte(',')
		}
		rec := o.Record
		if rec == nil {
			rec = Record{}
		}
		b, _ := rec.MarshalJSON()
		e.w.WriteString(`{"mDataRow":`)
		e.w.Write(b)
		e.w.WriteString(`,"uid":`)
		jsonString(e.w, o.UID)
		fmt.Fprintf(e.w, `,"actionId":"%d","rowStatus":"%d"`, o.ActionID, o.RowStatus)
		if o.Message != "" {
			e.w.WriteString(`,"message":`)
			jsonString(e.w, o.Message)
		}
		e.w.WriteByte('}')
	}
	e.n++
	if e.n%256 == 0 {
		if err := e.w.Flush(); err != nil {
			return err
		}
		if e.flush != nil {
			e.flush.Flush()
		}
	}
	return nil
}

// End writes the outputParams and flushes.
func (e *Encoder) End(res Result) error {
	e.start()
	if e.f == XML {
		e.w.WriteString("<outputParams>")
		if res.CurrentVersion != "" {
			e.w.WriteString("<currentVersion>")
			xmlText(e.w, res.CurrentVersion)
			e.w.WriteString("</currentVersion>")
		}
		fmt.Fprintf(e.w, "<statusCode>%d</statusCode><hasMore>%t</hasMore>", res.StatusCode, res.HasMore)
		if res.Message != "" {
			e.w.WriteString("<message>")
			xmlText(e.w, res.Message)
			e.w.WriteString("</message>")
		}
		e.w.WriteString("</outputParams></synchronizeResponse>\n")
	} else {
		e.w.WriteString(`],"outputParams":{`)
		if res.CurrentVersion != "" {
			e.w.WriteString(`"currentVersion":`)
			jsonString(e.w, res.CurrentVersion)
			e.w.WriteByte(',')
		}
		fmt.Fprintf(e.w, `"statusCode":"%d","hasMore":"%t"`, res.StatusCode, res.HasMore)
		if res.Message != "" {
			e.w.WriteString(`,"message":`)
			jsonString(e.w, res.Message)
		}
		e.w.WriteString("}}\n")
	}
	return e.w.Flush()
}
