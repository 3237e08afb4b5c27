//go:build unix

package channels

import (
	"fmt"
	"io/fs"
	"syscall"
)

// linkOwner reports a symbolic link that leads to a file owned by
// someone other than the link's owner and root: whoever owns the target
// decides what the secret is, and a link is how a file the user should
// not hand over (another user's key, /etc/shadow, /proc/...) gets read
// and sent. "" when the target's owner is the link's or root.
func linkOwner(link, target fs.FileInfo) string {
	l, ok1 := link.Sys().(*syscall.Stat_t)
	t, ok2 := target.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 || t.Uid == 0 || t.Uid == l.Uid {
		return ""
	}
	return fmt.Sprintf("a symbolic link to a file of another user (uid %d, the link's owner is uid %d): keep the secret in a file its user owns", t.Uid, l.Uid)
}
