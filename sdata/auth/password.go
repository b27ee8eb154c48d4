package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the parameters of an argon2id password hash.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultArgon2 returns the parameters of new password hashes: argon2id with
// 19 MiB of memory, 2 passes and 1 lane, the first configuration OWASP's
// Password Storage Cheat Sheet recommends (equivalent in cost to its
// 46 MiB x 1 pass). Memory-hard, so that a stolen database costs an
// attacker memory per guess; sized for this provider: a hash takes a few
// tens of milliseconds on one core, the verifier runs at most
// MaxConcurrentHashes at once (19 MiB each, well under the process's
// 160 MiB soft memory limit) and caches what it verified, so the sync path
// never hashes a password. Hashes record their parameters: raising these
// later keeps the old hashes verifiable.
func DefaultArgon2() Argon2Params { return Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1} }

const (
	saltLen = 16
	keyLen  = 32
)

// HashPassword hashes a password with argon2id and a random salt, encoded
// as a PHC string: $argon2id$v=19$m=19456,t=2,p=1$salt$hash.
func HashPassword(password string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	return encodeHash(p, salt, key), nil
}

func encodeHash(p Argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// errHash is the error of a stored hash this build cannot read.
var errHash = errors.New("auth: unreadable password hash")

// decodeHash reads a PHC string written by HashPassword.
func decodeHash(enc string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(enc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Memory < 8 || p.Memory > 1<<22 || p.Time < 1 || p.Time > 100 || p.Threads < 1 {
		return p, nil, nil, errHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return p, nil, nil, errHash
	}
	return p, salt, key, nil
}

// CheckPassword reports whether password matches the encoded hash, in
// time independent of where they differ.
func CheckPassword(enc, password string) bool {
	p, salt, key, err := decodeHash(enc)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}
