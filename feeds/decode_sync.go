package feeds

import (
	"encoding/xml"
	"errors"
	"strconv"

	"sdatasync/digest"
)

// digest parses the children of sync:digest.
func (p *parser) digest() (*digest.Digest, error) {
	d := &digest.Digest{}
	p.push("digest")
	err := p.children(func(t xml.StartElement) error {
		var err error
		switch t.Name {
		case xml.Name{Space: SyncNS, Local: "origin"}:
			d.Origin, err = p.trimmed()
		case xml.Name{Space: SyncNS, Local: "digestEntry"}:
			p.pushIndexed("digestEntry", len(d.Entries)+1)
			var de digest.Entry
			de, err = p.digestEntry()
			d.Entries = append(d.Entries, de)
			if err == nil && len(d.Entries) > digest.MaxEntries {
				// Stop at once: Validate reports the count.
				p.pop()
				err = p.invalid(d.Validate())
			}
		default:
			err = p.skip()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, p.invalid(err)
	}
	return d, nil
}

// invalid places a digest validation error (an *digest.InvalidError,
// whose path starts at the digest or sync state) under the current path.
func (p *parser) invalid(err error) error {
	var ie *digest.InvalidError
	if errors.As(err, &ie) {
		return ie.In(p.pathString())
	}
	return err
}

// checkClaims checks the sync state of every entry of a sync feed against
// the feed's digest (digest.Claims.Check): a feed may not carry a change
// its own digest does not claim.
func checkClaims(f *Feed) error {
	if f.Digest == nil || len(f.Entries) == 0 {
		return nil
	}
	claims := f.Digest.Claims()
	for i, e := range f.Entries {
		if e.SyncState == nil {
			continue
		}
		if err := claims.Check(*e.SyncState); err != nil {
			var ie *digest.InvalidError
			if errors.As(err, &ie) {
				return ie.In("feed/entry[" + strconv.Itoa(i+1) + "]")
			}
			return err
		}
	}
	return nil
}

// digestEntry parses sync:digestEntry (path already pushed). A missing
// conflictPriority is digest.DefaultConflictPriority.
func (p *parser) digestEntry() (digest.Entry, error) {
	de := digest.Entry{ConflictPriority: digest.DefaultConflictPriority}
	err := p.children(func(t xml.StartElement) error {
		var err error
		switch t.Name {
		case xml.Name{Space: SyncNS, Local: "endpoint"}:
			de.Endpoint, err = p.trimmed()
		case xml.Name{Space: SyncNS, Local: "tick"}:
			de.Tick, err = p.int64Val("tick")
		case xml.Name{Space: SyncNS, Local: "stamp"}:
			de.Stamp, err = p.timeVal("stamp")
		case xml.Name{Space: SyncNS, Local: "conflictPriority"}:
			de.ConflictPriority, err = p.intVal("conflictPriority")
		default:
			err = p.skip()
		}
		return err
	})
	return de, err
}

// syncState parses the children of sync:syncState.
func (p *parser) syncState() (*digest.SyncState, error) {
	s := &digest.SyncState{}
	p.push("syncState")
	err := p.children(func(t xml.StartElement) error {
		var err error
		switch t.Name {
		case xml.Name{Space: SyncNS, Local: "endpoint"}:
			s.Endpoint, err = p.trimmed()
		case xml.Name{Space: SyncNS, Local: "tick"}:
			s.Tick, err = p.int64Val("tick")
		case xml.Name{Space: SyncNS, Local: "stamp"}:
			s.Stamp, err = p.timeVal("stamp")
		case xml.Name{Space: SyncNS, Local: "user"}:
			s.User, err = p.trimmed()
		default:
			err = p.skip()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, p.invalid(err)
	}
	return s, nil
}
