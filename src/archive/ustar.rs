//! Where each field of a 512-byte tar header lives (POSIX ustar, with the
//! GNU fields in ustar's prefix area), named once: the reader takes its
//! fields at these offsets, and `codec::detect` sums the checksum over
//! the header with [`CHKSUM`] as spaces. The `tar` crate owns the layout
//! where its accessors suffice; these are the fields it does not expose
//! leniently (a bad mtime must not hide a file) or exposes only by type.

use std::ops::Range;

/// The permission bits, octal.
pub(crate) const MODE: Range<usize> = 100..108;
/// The owner's numeric id.
pub(crate) const UID: Range<usize> = 108..116;
/// The group's numeric id.
pub(crate) const GID: Range<usize> = 116..124;
/// The member's stored size.
pub(crate) const SIZE: Range<usize> = 124..136;
/// The modification time, seconds since the epoch.
pub(crate) const MTIME: Range<usize> = 136..148;
/// The header checksum, summed with these bytes taken as spaces.
pub(crate) const CHKSUM: Range<usize> = 148..156;
/// The type flag: `0` file, `5` directory, `L`/`K`/`x`/`g` extensions, ….
pub(crate) const TYPEFLAG: usize = 156;
/// `ustar\0` (POSIX) or `ustar ` (GNU); absent in v7 headers.
pub(crate) const MAGIC: Range<usize> = 257..263;
/// The owner's name (ustar and GNU only).
pub(crate) const UNAME: Range<usize> = 265..297;
/// The group's name (ustar and GNU only).
pub(crate) const GNAME: Range<usize> = 297..329;
/// A device's major number.
pub(crate) const DEVMAJOR: Range<usize> = 329..337;
/// A device's minor number.
pub(crate) const DEVMINOR: Range<usize> = 337..345;
/// GNU: where a multi-volume member's continuation starts.
pub(crate) const GNU_OFFSET: Range<usize> = 369..381;
/// GNU old sparse: the member's size once its holes are filled.
pub(crate) const GNU_REALSIZE: Range<usize> = 483..495;
