#!/usr/bin/env python3
"""A read-only FUSE passthrough that waits DELAY_MS before answering each
open, stat and read, standing in for a network volume (EBS, Ceph RBD, NFS)
where every request is a round trip. Requests run on many threads, as on a
real network volume, so requests in flight overlap.

    slowfs.py SOURCE MOUNTPOINT [DELAY_MS]     (unmount: fusermount -u MOUNTPOINT)
"""
import errno
import os
import sys
import time

from fuse import FUSE, FuseOSError, Operations


class Slow(Operations):
    def __init__(self, root, delay):
        self.root = root
        self.delay = delay

    def _path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _wait(self):
        time.sleep(self.delay)

    def getattr(self, path, fh=None):
        self._wait()
        try:
            st = os.lstat(self._path(path))
        except OSError as e:
            raise FuseOSError(e.errno)
        keys = ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime",
                "st_mtime", "st_ctime", "st_blocks", "st_ino")
        out = {k: getattr(st, k) for k in keys}
        out["st_mtime"] = st.st_mtime_ns / 1e9
        return out

    def readdir(self, path, fh):
        self._wait()
        return [".", ".."] + os.listdir(self._path(path))

    def readlink(self, path):
        return os.readlink(self._path(path))

    def open(self, path, flags):
        self._wait()
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise FuseOSError(errno.EROFS)
        return os.open(self._path(path), os.O_RDONLY)

    def read(self, path, size, offset, fh):
        self._wait()
        return os.pread(fh, size, offset)

    def release(self, path, fh):
        os.close(fh)


if __name__ == "__main__":
    delay = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.002
    FUSE(Slow(sys.argv[1], delay), sys.argv[2], foreground=True, ro=True,
         nothreads=False, allow_other=True, max_read=131072,
         attr_timeout=0, entry_timeout=0)
