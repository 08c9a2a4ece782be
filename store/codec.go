package store

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// Large stored values (step outputs and inputs, delivery bodies) are kept
// zstd-compressed. A stored value is a zstd frame exactly when it begins
// with zstd's magic number; a value that itself begins so (a zstd file
// posted as a body) is compressed too, whatever its size, so decoding never
// mistakes one for the other. JSON never begins with those bytes.
const compressAbove = 1 << 10

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var (
	// The encoder and decoder are safe for concurrent EncodeAll and
	// DecodeAll, which is all they are used for.
	zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithZeroFrames(true))
	zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(1<<30))
)

// encodeValue returns what is stored for value: the value itself, or a
// zstd frame of it when that is worth it. Callers encode outside the
// committer, whose single goroutine must not spend its time compressing.
func encodeValue(value []byte) []byte {
	magic := bytes.HasPrefix(value, zstdMagic)
	if len(value) <= compressAbove && !magic {
		return value
	}
	frame := zstdEncoder.EncodeAll(value, make([]byte, 0, len(value)/4))
	if !magic && len(frame) > len(value)-len(value)/8 {
		return value // it hardly compresses
	}
	return frame
}

// decodeValue undoes encodeValue.
func decodeValue(stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, zstdMagic) {
		return stored, nil
	}
	value, err := zstdDecoder.DecodeAll(stored, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress a stored value: %w", err)
	}
	return value, nil
}
