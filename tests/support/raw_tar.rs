//! Tar streams written byte by byte: the hostile and odd headers no tool
//! writes (everything a tool can make, tests make with that tool).

/// Builds tar streams byte by byte, including the hostile ones the tar
/// crate's safe setters refuse to write.
#[derive(Default)]
pub struct RawTar {
    pub bytes: Vec<u8>,
}

impl RawTar {
    /// One entry with `name` and `link` written raw into the ustar fields.
    pub fn entry(mut self, kind: tar::EntryType, name: &[u8], link: &[u8], data: &[u8]) -> Self {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(1_600_000_000);
        {
            let u = h.as_ustar_mut().unwrap();
            u.name[..name.len()].copy_from_slice(name);
            u.linkname[..link.len()].copy_from_slice(link);
        }
        h.set_cksum();
        self.bytes.extend_from_slice(h.as_bytes());
        self.bytes.extend_from_slice(data);
        self.bytes.resize(self.bytes.len().div_ceil(512) * 512, 0);
        self
    }

    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(tar::EntryType::Regular, name.as_bytes(), b"", data)
    }

    pub fn dir(self, name: &str) -> Self {
        self.entry(tar::EntryType::Directory, name.as_bytes(), b"", b"")
    }

    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(
            tar::EntryType::Symlink,
            name.as_bytes(),
            target.as_bytes(),
            b"",
        )
    }

    pub fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(
            tar::EntryType::Link,
            name.as_bytes(),
            target.as_bytes(),
            b"",
        )
    }

    /// A PAX extended header applying to the next entry.
    pub fn pax(self, records: &[(&str, &str)]) -> Self {
        let mut body = Vec::new();
        for (k, v) in records {
            let rest = format!(" {k}={v}\n");
            let mut len = rest.len() + 1;
            while len.to_string().len() + rest.len() != len {
                len += 1;
            }
            body.extend_from_slice(format!("{len}{rest}").as_bytes());
        }
        self.entry(tar::EntryType::XHeader, b"PaxHeaders/x", b"", &body)
    }

    /// A GNU long-name entry applying to the next entry.
    pub fn gnu_long_name(self, name: &str) -> Self {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        self.entry(tar::EntryType::GNULongName, b"././@LongLink", b"", &data)
    }

    /// The two end-of-archive blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0u8; 1024]);
        self.bytes
    }
}
