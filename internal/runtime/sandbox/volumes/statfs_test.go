package volumes

import "golang.org/x/sys/unix"

type statfs struct {
	tmpfs bool
	size  int64
}

func statFS(path string, out *statfs) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return err
	}
	out.tmpfs = st.Type == unix.TMPFS_MAGIC
	out.size = int64(st.Blocks) * st.Bsize
	return nil
}
