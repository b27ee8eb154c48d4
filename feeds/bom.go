package feeds

import (
	"bytes"
	"encoding/xml"
	"unicode/utf16"
	"unicode/utf8"
)

// Byte-order marks XML 1.0 allows at the start of a document (appendix F).
var (
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16BE = []byte{0xFE, 0xFF}
	bomUTF16LE = []byte{0xFF, 0xFE}
)

// utf8Document returns a document as UTF-8 without a byte-order mark: a
// UTF-8 BOM is dropped; a document that starts with a UTF-16 BOM (either
// byte order) is transcoded, and the encoding its XML declaration names
// becomes UTF-8. Anything else is returned as is (UTF-8 is the default).
// UTF-16 that does not decode (an odd length, a lone surrogate) is a
// *SyntaxError.
func utf8Document(data []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, bomUTF8):
		return data[len(bomUTF8):], nil
	case bytes.HasPrefix(data, bomUTF16BE):
		return fromUTF16(data[2:], true)
	case bytes.HasPrefix(data, bomUTF16LE):
		return fromUTF16(data[2:], false)
	}
	return data, nil
}

// fromUTF16 transcodes UTF-16 (after its BOM) to UTF-8.
func fromUTF16(b []byte, bigEndian bool) ([]byte, error) {
	if len(b)%2 != 0 {
		return nil, &SyntaxError{Line: 1, Msg: "UTF-16 document of an odd number of bytes"}
	}
	out := make([]byte, 0, len(b)/2+len(b)/4)
	line := 1
	for i := 0; i < len(b); i += 2 {
		u := unit(b[i:], bigEndian)
		r := rune(u)
		switch {
		case utf16.IsSurrogate(r) && u < 0xDC00 && i+3 < len(b):
			lo := unit(b[i+2:], bigEndian)
			if r = utf16.DecodeRune(r, rune(lo)); r == utf8.RuneError {
				return nil, &SyntaxError{Line: line, Msg: "invalid UTF-16: a high surrogate without its low surrogate"}
			}
			i += 2
		case utf16.IsSurrogate(r):
			return nil, &SyntaxError{Line: line, Msg: "invalid UTF-16: a lone surrogate"}
		case r == '\n':
			line++
		}
		out = utf8.AppendRune(out, r)
	}
	return declareUTF8(out), nil
}

func unit(b []byte, bigEndian bool) uint16 {
	if bigEndian {
		return uint16(b[0])<<8 | uint16(b[1])
	}
	return uint16(b[1])<<8 | uint16(b[0])
}

// declareUTF8 rewrites the encoding of the XML declaration that starts a
// transcoded document to UTF-8.
func declareUTF8(doc []byte) []byte {
	if !bytes.HasPrefix(doc, []byte("<?xml")) {
		return doc
	}
	end := bytes.Index(doc, []byte("?>"))
	if end < 0 {
		return doc
	}
	enc := procInstParam("encoding=", doc[:end])
	if enc == nil {
		return doc
	}
	at := bytes.Index(doc[:end], enc)
	out := make([]byte, 0, len(doc))
	out = append(out, doc[:at]...)
	out = append(out, "UTF-8"...)
	return append(out, doc[at+len(enc):]...)
}

// RootName returns the namespace and local name of the root element of a
// document (in any encoding XML allows by a byte-order mark). A document
// that is not well-formed up to its root start tag is a *SyntaxError.
func RootName(data []byte) (xml.Name, error) {
	data, err := utf8Document(data)
	if err != nil {
		return xml.Name{}, err
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			line, _ := d.InputPos()
			if se, ok := err.(*xml.SyntaxError); ok {
				return xml.Name{}, &SyntaxError{Line: se.Line, Msg: se.Msg}
			}
			return xml.Name{}, &SyntaxError{Line: line, Msg: err.Error()}
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name, nil
		}
	}
}
