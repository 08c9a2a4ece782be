// Package vault seals credentials with AES-256-GCM before they are stored,
// and keeps the key: HOOKFLOW_SECRET_KEY, or a key file made on first start.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the key length: AES-256.
const KeySize = 32

// KeyFile is the key file's name in the data dir.
const KeyFile = "secret.key"

// version prefixes sealed data, so the format can change later.
const version byte = 1

// ErrOpen is sealed data that does not open: another key sealed it, or it
// was changed.
var ErrOpen = errors.New("sealed data does not open with this key")

// Vault seals and opens data with one key.
type Vault struct {
	aead cipher.AEAD
}

// New returns a vault for a 32-byte key.
func New(key []byte) (*Vault, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("vault key is %d bytes; it must be %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("vault key: %w", err)
	}
	return &Vault{aead: aead}, nil
}

// Seal encrypts plaintext, binding it to context (a credential's name): data
// moved to another name does not open.
func (v *Vault) Seal(plaintext, context []byte) []byte {
	out := make([]byte, 1+v.aead.NonceSize(), 1+v.aead.NonceSize()+len(plaintext)+v.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		panic(fmt.Sprintf("vault: no randomness: %v", err)) // crypto/rand does not fail on supported platforms
	}
	return v.aead.Seal(out, out[1:], plaintext, context)
}

// Open decrypts what Seal made with the same context.
func (v *Vault) Open(sealed, context []byte) ([]byte, error) {
	n := v.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != version {
		return nil, ErrOpen
	}
	plain, err := v.aead.Open(nil, sealed[1:1+n], sealed[1+n:], context)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// LoadKey returns the key: from encoded (base64 of 32 bytes) when given,
// else from the key file in dataDir, which is created, readable by its owner
// only, when missing. created reports a new file.
func LoadKey(encoded, dataDir string) (key []byte, created bool, err error) {
	if encoded != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
		if err != nil || len(key) != KeySize {
			return nil, false, fmt.Errorf("secret key must be base64 of %d bytes", KeySize)
		}
		return key, false, nil
	}
	path := filepath.Join(dataDir, KeyFile)
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) != KeySize {
			return nil, false, fmt.Errorf("key file %s does not hold base64 of %d bytes", path, KeySize)
		}
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("read key file: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, fmt.Errorf("create data dir: %w", err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("make key: %w", err)
	}
	// O_EXCL: two processes starting together keep the first one's key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadKey("", dataDir)
	}
	if err != nil {
		return nil, false, fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write key file: %w", err)
	}
	return key, true, nil
}
