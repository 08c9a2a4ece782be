package vault

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealAndOpen(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, KeySize)
	v, err := New(key)
	require.NoError(t, err)
	sealed := v.Seal([]byte(`{"secret":"whsec_abc"}`), []byte("stripe"))
	assert.NotContains(t, string(sealed), "whsec_abc", "the secret is not in the sealed data")
	assert.NotEqual(t, sealed, v.Seal([]byte(`{"secret":"whsec_abc"}`), []byte("stripe")), "a fresh nonce every time")

	plain, err := v.Open(sealed, []byte("stripe"))
	require.NoError(t, err)
	assert.Equal(t, `{"secret":"whsec_abc"}`, string(plain))

	_, err = v.Open(sealed, []byte("github"))
	assert.ErrorIs(t, err, ErrOpen, "data moved to another name does not open")
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	_, err = other.Open(sealed, []byte("stripe"))
	assert.ErrorIs(t, err, ErrOpen, "another key does not open it")
	tampered := append([]byte{}, sealed...)
	tampered[len(tampered)-1] ^= 1
	_, err = v.Open(tampered, []byte("stripe"))
	assert.ErrorIs(t, err, ErrOpen)
	_, err = v.Open([]byte{1, 2}, nil)
	assert.ErrorIs(t, err, ErrOpen)
	_, err = New([]byte("short"))
	assert.Error(t, err)
}

func TestLoadKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, created, err := LoadKey("", dir)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Len(t, key, KeySize)
	info, err := os.Stat(filepath.Join(dir, KeyFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "only its owner reads the key file")

	again, created, err := LoadKey("", dir)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, key, again, "the key file is kept")

	given := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, KeySize))
	fromEnv, _, err := LoadKey(given, dir)
	require.NoError(t, err)
	assert.Equal(t, bytes.Repeat([]byte{1}, KeySize), fromEnv, "HOOKFLOW_SECRET_KEY wins over the file")

	_, _, err = LoadKey("c2hvcnQ=", dir)
	assert.ErrorContains(t, err, "base64 of 32 bytes")
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, KeyFile), []byte("nope"), 0o600))
	_, _, err = LoadKey("", bad)
	assert.ErrorContains(t, err, "does not hold base64")
}
