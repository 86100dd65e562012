//! The function libraries: what FUNCTION LOAD and FUNCTION RESTORE loaded, by library name,
//! with the functions each registered.
//!
//! Like the script cache (`scripts`), the libraries are replicated state: they change only in
//! apply (FUNCTION LOAD, DELETE, RESTORE and FLUSH are log entries) and are carried by
//! snapshots, so FCALL finds a function on every member, after a failover and after a restart.
//! They belong to the keyspace because every read view must see the libraries as of the same
//! entry as the keys (FCALL_RO runs on a view).
//!
//! A library keeps its whole code (what FUNCTION LIST WITHCODE and FUNCTION DUMP return, and
//! what FCALL runs) and what loading it registered: each function's name, description and
//! flags. The code is the source of truth; the registrations are kept so that listing and
//! routing need not run Lua.
//!
//! Invariants:
//! - A function name belongs to at most one library: `owners` maps every registered function
//!   to its library, and nothing else.
//! - Every library has at least one function (FUNCTION LOAD refuses a library without any).
//! - The maps are persistent, so a view's copy costs O(1), and iteration (FUNCTION LIST,
//!   DUMP, a snapshot) is in name order, the same on every replica. Redis lists in the order
//!   of its hash table, which differs between two runs of redis-server.

use bytes::Bytes;
use imbl::OrdMap;
use serde::{Deserialize, Serialize};

/// The flags a function may declare (`redis.register_function{..., flags = {...}}`), as a
/// set of bits in Redis's order: FUNCTION LIST names them in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionFlags(u8);

impl FunctionFlags {
    /// Every flag, with the name Redis gives it, in Redis's order.
    pub const NAMES: [(FunctionFlags, &'static str); 5] = [
        (FunctionFlags::NO_WRITES, "no-writes"),
        (FunctionFlags(1 << 1), "allow-oom"),
        (FunctionFlags(1 << 2), "allow-stale"),
        (FunctionFlags(1 << 3), "no-cluster"),
        (FunctionFlags(1 << 4), "allow-cross-slot-keys"),
    ];
    /// `no-writes`: the function only reads, so FCALL_RO may call it and it runs on a view.
    pub const NO_WRITES: FunctionFlags = FunctionFlags(1);

    /// The flag named `name` (any case), if there is one.
    pub fn named(name: &[u8]) -> Option<FunctionFlags> {
        FunctionFlags::NAMES
            .iter()
            .find(|(_, known)| known.as_bytes().eq_ignore_ascii_case(name))
            .map(|(flag, _)| *flag)
    }

    /// These flags and `other`'s.
    pub fn with(self, other: FunctionFlags) -> FunctionFlags {
        FunctionFlags(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: FunctionFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the flags set, in Redis's order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        FunctionFlags::NAMES
            .into_iter()
            .filter(move |(flag, _)| self.contains(*flag))
            .map(|(_, name)| name)
    }
}

/// One function a library registered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// Its name: letters, digits and underscores.
    pub name: Bytes,
    /// The `description` it was registered with, if any.
    pub description: Option<Bytes>,
    /// Its flags.
    pub flags: FunctionFlags,
}

/// One library.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Library {
    /// The name from its `#!lua name=...` line.
    pub name: Bytes,
    /// Its whole code, the first line included.
    pub code: Bytes,
    /// The functions it registered, by name.
    pub functions: OrdMap<Bytes, Function>,
}

/// Why a set of libraries cannot join the loaded ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Collision {
    /// A library of that name is loaded (and was not to be replaced).
    Library(Bytes),
    /// A function of that name belongs to another library.
    Function(Bytes),
}

/// The loaded libraries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionLibraries {
    libraries: OrdMap<Bytes, Library>,
    /// Every function's library, by function name.
    owners: OrdMap<Bytes, Bytes>,
}

impl FunctionLibraries {
    /// The library named `name`.
    pub fn library(&self, name: &[u8]) -> Option<&Library> {
        self.libraries.get(name)
    }

    /// The libraries, in name order.
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    /// The function named `name` and its library.
    pub fn function(&self, name: &[u8]) -> Option<(&Library, &Function)> {
        let library = self.libraries.get(self.owners.get(name)?)?;
        Some((library, library.functions.get(name)?))
    }

    /// How many libraries are loaded.
    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    /// How many functions the loaded libraries registered.
    pub fn function_count(&self) -> usize {
        self.owners.len()
    }

    /// Adds `incoming` (each library's functions already registered), replacing the loaded
    /// libraries of the same names if `replace`; all or nothing. Checked as Redis checks:
    /// first every library name, then every function name against the libraries that stay.
    pub fn join(&mut self, incoming: Vec<Library>, replace: bool) -> Result<(), Collision> {
        let mut joined = self.clone();
        for library in &incoming {
            if joined.libraries.contains_key(&library.name) {
                if !replace {
                    return Err(Collision::Library(library.name.clone()));
                }
                joined.remove(&library.name);
            }
        }
        for library in &incoming {
            if let Some(name) =
                library.functions.keys().find(|name| joined.owners.contains_key(*name))
            {
                return Err(Collision::Function(name.clone()));
            }
        }
        for library in incoming {
            for name in library.functions.keys() {
                joined.owners.insert(name.clone(), library.name.clone());
            }
            joined.libraries.insert(library.name.clone(), library);
        }
        *self = joined;
        Ok(())
    }

    /// Removes the library named `name`; whether it was loaded.
    pub fn remove(&mut self, name: &[u8]) -> bool {
        let Some(library) = self.libraries.remove(name) else {
            return false;
        };
        for function in library.functions.keys() {
            self.owners.remove(function);
        }
        true
    }

    /// Removes every library (FUNCTION FLUSH).
    pub fn clear(&mut self) {
        *self = FunctionLibraries::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(name: &str, functions: &[&str]) -> Library {
        Library {
            name: Bytes::copy_from_slice(name.as_bytes()),
            code: Bytes::from(format!("#!lua name={name}\n")),
            functions: functions
                .iter()
                .map(|function| {
                    let name = Bytes::copy_from_slice(function.as_bytes());
                    let function = Function {
                        name: name.clone(),
                        description: None,
                        flags: FunctionFlags::default(),
                    };
                    (name, function)
                })
                .collect(),
        }
    }

    #[test]
    fn a_function_name_belongs_to_one_library() {
        let mut libraries = FunctionLibraries::default();
        libraries.join(vec![library("a", &["f", "g"])], false).unwrap();
        assert_eq!(
            libraries.join(vec![library("b", &["g"])], false),
            Err(Collision::Function(Bytes::from("g")))
        );
        assert_eq!(
            libraries.join(vec![library("a", &["h"])], false),
            Err(Collision::Library(Bytes::from("a")))
        );
        // Replacing a library frees its function names for the new version.
        libraries.join(vec![library("a", &["g", "h"])], true).unwrap();
        assert!(libraries.function(b"f").is_none());
        assert_eq!(libraries.function(b"h").unwrap().0.name, Bytes::from("a"));
        assert_eq!((libraries.library_count(), libraries.function_count()), (1, 2));
        assert!(libraries.remove(b"a"));
        assert!(!libraries.remove(b"a"));
        assert_eq!(libraries, FunctionLibraries::default());
    }

    #[test]
    fn flags_are_named_as_redis_names_them_in_its_order() {
        let flags = FunctionFlags::named(b"ALLOW-STALE").unwrap().with(FunctionFlags::NO_WRITES);
        assert_eq!(flags.names().collect::<Vec<_>>(), ["no-writes", "allow-stale"]);
        assert!(FunctionFlags::named(b"bogus").is_none());
    }
}
