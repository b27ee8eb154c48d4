package feeds

import (
	"fmt"
	"strconv"
)

// Default limits applied when a Limits field is zero.
const (
	// DefaultMaxDepth is the default maximum element nesting depth.
	DefaultMaxDepth = 64
	// DefaultMaxBytes is the default maximum document size (16 MiB).
	DefaultMaxBytes = 16 << 20
	// DefaultMaxEntries is the default maximum number of entries in a feed.
	DefaultMaxEntries = 10000
	// DefaultMaxAttributes is the default maximum number of attributes of
	// one element (namespace declarations included).
	DefaultMaxAttributes = 128
	// DefaultMaxElements is the default maximum number of elements of a
	// document (a page of 1000 entries of 150 elements each fits).
	DefaultMaxElements = 200_000
)

// Limits bound what a parser accepts, so that the work of a parse is linear
// in the size of the document and its memory bounded. Zero fields mean the
// defaults (MaxDepth 64, MaxBytes 16 MiB, MaxEntries 10000, MaxAttributes
// 128, MaxElements 200,000).
type Limits struct {
	MaxDepth      int   // maximum element nesting depth, the root being depth 1
	MaxBytes      int64 // maximum document size in bytes
	MaxEntries    int   // maximum number of atom:entry elements in a feed
	MaxAttributes int   // maximum number of attributes of one element
	MaxElements   int   // maximum number of elements of the document
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = DefaultMaxAttributes
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	return l
}

// SyntaxError reports a document that is not well-formed XML, or that uses
// constructs this package refuses (DOCTYPE, entity declarations).
type SyntaxError struct {
	Line int    // 1-based line where the problem was detected
	Msg  string // what is wrong
}

func (e *SyntaxError) Error() string {
	return "feeds: XML syntax error on line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

// LimitError reports a document that exceeds one of the parser Limits.
type LimitError struct {
	Limit string // "MaxDepth", "MaxBytes", "MaxEntries", "MaxAttributes" or "MaxElements"
	Max   int64  // the limit in force
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("feeds: document exceeds the %s limit of %d", e.Limit, e.Max)
}

// FormatError reports well-formed XML that is not the expected document: a
// wrong root element or a value of the wrong type.
type FormatError struct {
	Path string // element path, e.g. "feed/entry[3]/syncState/tick"
	Msg  string // what is wrong
}

func (e *FormatError) Error() string {
	if e.Path == "" {
		return "feeds: " + e.Msg
	}
	return "feeds: " + e.Path + ": " + e.Msg
}
