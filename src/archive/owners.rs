//! User and group names ↔ ids from this system's databases (passwd/group
//! through NSS), cached: a tree of 50,000 files has a handful of owners, and
//! each lookup may read /etc/passwd or ask a directory service.

use std::collections::HashMap;

use super::options::Id;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
/// Which of the two ids: names are looked up in passwd or group.
pub enum Kind {
    /// `--owner`, looked up in the passwd database.
    User,
    /// `--group`, looked up in the group database.
    Group,
}

impl Kind {
    /// "user" or "group", for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
        }
    }
}

/// The name of user or group `id` here, if it has one.
pub fn name_of(kind: Kind, id: u32) -> Option<String> {
    match kind {
        Kind::User => nix::unistd::User::from_uid(id.into())
            .ok()
            .flatten()
            .map(|u| u.name),
        Kind::Group => nix::unistd::Group::from_gid(id.into())
            .ok()
            .flatten()
            .map(|g| g.name),
    }
}

/// The id of user or group `name` here, if it exists.
pub fn id_of(kind: Kind, name: &str) -> Option<u32> {
    match kind {
        Kind::User => nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw()),
        Kind::Group => nix::unistd::Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw()),
    }
}

/// Both lookups, each answer remembered.
#[derive(Debug, Default)]
pub struct Owners {
    names: HashMap<(Kind, u32), Vec<u8>>,
    ids: HashMap<(Kind, Vec<u8>), Option<u32>>,
}

impl Owners {
    /// The name of `id` (empty when it has none), as tar headers store it.
    pub fn name(&mut self, kind: Kind, id: u32) -> &[u8] {
        self.names
            .entry((kind, id))
            .or_insert_with(|| name_of(kind, id).unwrap_or_default().into_bytes())
    }

    /// The id of `name` here (None when unknown or not UTF-8).
    pub fn id(&mut self, kind: Kind, name: &[u8]) -> Option<u32> {
        *self
            .ids
            .entry((kind, name.to_vec()))
            .or_insert_with(|| std::str::from_utf8(name).ok().and_then(|n| id_of(kind, n)))
    }
}

/// Why an `--owner`/`--group` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("bad {kind} id in {spec:?}")]
    /// `NAME:ID` whose ID is not a number.
    BadId {
        /// "owner" or "group".
        kind: &'static str,
        /// The value as given.
        spec: String,
    },
    #[error("no such {kind}: {spec} (use NAME:ID)")]
    /// A name with no ID that this system does not know.
    Unknown {
        /// "owner" or "group".
        kind: &'static str,
        /// The value as given.
        spec: String,
    },
}

/// Parse `--owner`/`--group`: `NAME`, `ID` or `NAME:ID`, like GNU tar.
pub fn parse_id(spec: &str, is_group: bool) -> Result<Id, IdError> {
    let kind = if is_group { Kind::Group } else { Kind::User };
    match spec.split_once(':') {
        Some((name, id)) => {
            let id = id.parse().map_err(|_| IdError::BadId {
                kind: kind.noun(),
                spec: spec.into(),
            })?;
            Ok(Id {
                name: name.as_bytes().to_vec(),
                id,
            })
        }
        None => match spec.parse::<u64>() {
            Ok(id) => Ok(Id {
                name: u32::try_from(id)
                    .ok()
                    .and_then(|id| name_of(kind, id))
                    .unwrap_or_default()
                    .into_bytes(),
                id,
            }),
            Err(_) => {
                let id = id_of(kind, spec)
                    .map(u64::from)
                    .ok_or_else(|| IdError::Unknown {
                        kind: kind.noun(),
                        spec: spec.into(),
                    })?;
                Ok(Id {
                    name: spec.as_bytes().to_vec(),
                    id,
                })
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_both_ways_and_unknowns_are_none() {
        let mut owners = Owners::default();
        assert_eq!(owners.name(Kind::User, 0), b"root");
        assert_eq!(owners.id(Kind::User, b"root"), Some(0));
        assert_eq!(owners.id(Kind::Group, b"root"), Some(0));
        assert_eq!(owners.id(Kind::User, b"no-such-user-s3pipe"), None);
        assert_eq!(owners.id(Kind::User, b"\xff"), None);
        assert_eq!(owners.name(Kind::Group, 4_000_000_000), b"");
    }
}
