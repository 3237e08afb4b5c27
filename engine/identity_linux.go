package engine

import (
	"encoding/binary"
	"hash"
	"io/fs"
	"syscall"
)

// writeIdentity adds what identifies one version of a file to h.
func writeIdentity(h hash.Hash, st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	var b []byte
	for _, v := range []uint64{sys.Dev, sys.Ino, uint64(sys.Size),
		uint64(sys.Mtim.Sec), uint64(sys.Mtim.Nsec), uint64(sys.Ctim.Sec), uint64(sys.Ctim.Nsec)} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	h.Write(b)
	return true
}
