package access

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Password rules: long enough to resist guessing at the login's rate
// limits, and within what bcrypt reads (it ignores bytes past 72, so a
// longer password would be a shorter one in disguise).
const (
	MinPasswordChars = 12
	MaxPasswordBytes = 72
)

// PasswordCost is bcrypt's work factor: about 50 ms a check on a server
// core, slow for a guesser, fast enough for a login.
const PasswordCost = 11

// CheckPassword says why a new password is refused, or nil.
func CheckPassword(password, email string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordChars:
		return fmt.Errorf("must have at least %d characters", MinPasswordChars)
	case len(password) > MaxPasswordBytes:
		return fmt.Errorf("must have at most %d bytes", MaxPasswordBytes)
	case strings.TrimSpace(password) == "":
		return errors.New("must not be only spaces")
	case email != "" && strings.EqualFold(password, email):
		return errors.New("must not be the email address")
	}
	return nil
}

// HashPassword is how a password is stored: a bcrypt hash with its salt,
// of cost PasswordCost (tests use less, to save time; the hash records its
// cost, so checking needs no setting).
func HashPassword(password string, cost int) ([]byte, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// PasswordMatches reports whether password is the one hash was made from,
// in constant time.
func PasswordMatches(hash []byte, password string) bool {
	return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
}

// NewSecret returns a new random secret: an API token, a session id, an
// invitation. 26 base32 characters carry 130 bits.
func NewSecret() string { return "hf_" + rand.Text() }

// HashSecret is how secrets are stored: only their SHA-256. They are random
// and long, so a fast hash is enough (passwords, chosen by people, get
// bcrypt).
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
