package feeds

import (
	"encoding/xml"
	"math"
	"strconv"
	"time"
)

// children calls fn with each child element of the current element, whose
// path the caller pushed, and pops that path at the element's end tag. fn
// must consume its child (parse it or skip it).
func (p *parser) children(fn func(t xml.StartElement) error) error {
	for {
		k, err := p.next()
		if err != nil {
			return err
		}
		switch k {
		case endToken:
			p.pop()
			return nil
		case startToken:
			if err := fn(p.start); err != nil {
				return err
			}
		}
	}
}

// trimmed returns the element's text without surrounding whitespace.
func (p *parser) trimmed() (string, error) {
	s, err := p.text()
	return trimXMLSpace(s), err
}

// valueErr reports a bad value of the child element name.
func (p *parser) valueErr(name, s, want string) error {
	p.push(name)
	err := p.formatErr("%q is not %s", s, want)
	p.pop()
	return err
}

func (p *parser) int64Val(name string) (int64, error) {
	s, err := p.trimmed()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, p.valueErr(name, s, "an integer")
	}
	return v, nil
}

func (p *parser) intVal(name string) (int, error) {
	s, err := p.trimmed()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 0)
	if err != nil {
		return 0, p.valueErr(name, s, "an integer")
	}
	return int(v), nil
}

// countVal parses a non-negative integer.
func (p *parser) countVal(name string) (int, error) {
	s, err := p.trimmed()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 0)
	if err != nil || v < 0 {
		return 0, p.valueErr(name, s, "a non-negative integer")
	}
	return int(v), nil
}

func (p *parser) decimalVal(name string) (float64, error) {
	s, err := p.trimmed()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, p.valueErr(name, s, "a decimal number")
	}
	return v, nil
}

func (p *parser) timeVal(name string) (time.Time, error) {
	s, err := p.trimmed()
	if err != nil {
		return time.Time{}, err
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, p.valueErr(name, s, "an xs:dateTime")
	}
	return t, nil
}
