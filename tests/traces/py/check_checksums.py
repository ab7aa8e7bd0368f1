#!/usr/bin/python3
"""Checks, with Debian's h5py, that a moesim-written file carries HDF5 checksums: superblock
version >= 2 (checksummed superblock and object headers: libver v18+) and the Fletcher32
filter on every chunked dataset; reads every dataset back."""
import sys

import h5py

f = h5py.File(sys.argv[1], "r")
sb = f.id.get_create_plist().get_version()[0]
assert sb >= 2, "superblock version %d has no checksum" % sb
chunked = 0


def visit(name, obj):
    global chunked
    if isinstance(obj, h5py.Dataset):
        obj[()]
        if obj.chunks is not None:
            assert obj.fletcher32, name + " is chunked without Fletcher32"
            chunked += 1


f.visititems(visit)
assert chunked > 0
print("ok: superblock v%d, %d chunked datasets with fletcher32" % (sb, chunked))
