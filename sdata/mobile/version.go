package mobile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Version is what a lastVersion/currentVersion stands for: where a device
// is in the component's change sequence and what it can hold. Devices see
// it only sealed (Sealer): opaque and tamper-evident.
//
// A download is a scan of the component's rows in change-sequence order.
// Pos is how far the scan has gone: every row whose last write is numbered
// up to Pos has been dealt with. Before the scan began the device held
// exactly the rows matching HeldFilter as of sequence Held (HeldNone: it
// held nothing). Start is the last sequence number when the scan began;
// rows first written up to Extra may be held too (a filter changed in the
// middle of a scan). In the steady state Pos == Held == Start and
// HeldFilter == Filter: the next scan is incremental.
type Version struct {
	Alias      string `json:"a"`
	Device     string `json:"d"`
	Config     string `json:"c"` // the component's fingerprint
	Pos        int64  `json:"p"`
	Held       int64  `json:"h"`
	HeldNone   bool   `json:"n,omitempty"`
	HeldFilter Filter `json:"hf,omitempty"`
	Start      int64  `json:"s"`
	Extra      int64  `json:"x,omitempty"`
	Filter     Filter `json:"f,omitempty"`
	Response   int64  `json:"r,omitempty"` // the number of the response that carried it
}

// Key is a secret that seals versions, with its id.
type Key struct {
	ID     int64
	Secret []byte
}

// Sealer seals and opens versions with HMAC-SHA256. New versions are
// sealed with the first key; a version opens with any key of the list
// (rotation: add a key in front, retire the old ones later).
type Sealer struct {
	Keys []Key
}

// VersionError says why a lastVersion is refused. Nothing is applied or
// downloaded for such a request; a device recovers with a blank
// lastVersion (a full download).
type VersionError struct{ Reason string }

func (e *VersionError) Error() string { return "lastVersion refused: " + e.Reason }

const versionPrefix = "v1."

func mac(secret, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("sdatasync mobile version\x00"))
	h.Write(body)
	return h.Sum(nil)
}

// Seal turns v into the opaque string sent to the device.
func (s Sealer) Seal(v Version) (string, error) {
	if len(s.Keys) == 0 {
		return "", fmt.Errorf("mobile: no key to seal versions")
	}
	body, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	k := s.Keys[0]
	enc := base64.RawURLEncoding
	return versionPrefix + strconv.FormatInt(k.ID, 10) + "." + enc.EncodeToString(body) + "." + enc.EncodeToString(mac(k.Secret, body)), nil
}

// Open checks a sealed version and that it belongs to alias, device and
// the component's current configuration (fingerprint config).
func (s Sealer) Open(sealed, alias, device, config string) (Version, error) {
	if len(sealed) > maxVersionLen {
		return Version{}, &VersionError{"too long to be a version of this server"}
	}
	rest, ok := strings.CutPrefix(sealed, versionPrefix)
	if !ok {
		return Version{}, &VersionError{"not a version of this server"}
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return Version{}, &VersionError{"truncated or malformed"}
	}
	id, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || strconv.FormatInt(id, 10) != parts[0] {
		return Version{}, &VersionError{"malformed key id"}
	}
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(parts[1])
	sum, err2 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil {
		return Version{}, &VersionError{"truncated or malformed"}
	}
	var key *Key
	for i := range s.Keys {
		if s.Keys[i].ID == id {
			key = &s.Keys[i]
		}
	}
	if key == nil {
		return Version{}, &VersionError{"sealed with a key this server no longer accepts; sync with a blank lastVersion"}
	}
	if !hmac.Equal(sum, mac(key.Secret, body)) {
		return Version{}, &VersionError{"forged or corrupted"}
	}
	var v Version
	if err := json.Unmarshal(body, &v); err != nil {
		return Version{}, &VersionError{"malformed"}
	}
	switch {
	case v.Alias != alias:
		return Version{}, &VersionError{"it is a version of another mobile sync component"}
	case v.Device != device:
		return Version{}, &VersionError{"it is the version of another device"}
	case v.Config != config:
		return Version{}, &VersionError{"stale: the component's dataset, kind, row identifiers or filter keys changed since; sync with a blank lastVersion"}
	case v.Pos < 0 || v.Held < 0 || v.Start < v.Held || v.Extra < 0 || v.Response < 0:
		return Version{}, &VersionError{"inconsistent"}
	}
	return v, nil
}

// maxVersionLen bounds a lastVersion (filters travel inside it).
const maxVersionLen = 64 << 10
