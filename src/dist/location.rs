//! Where a node is: its name and the address its peers dial (pycos `Location`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// The TCP port a node listens on unless told otherwise (pycos's default too).
pub const DEFAULT_PORT: u16 = 9705;

/// A node's name and the address its peers reach it at, written `name@address`
/// (`worker-1@10.0.0.7:9705`, `n@[::1]:9705`).
///
/// ```
/// use rycos::dist::Location;
/// let here: Location = "worker-1@127.0.0.1:9705".parse().unwrap();
/// assert_eq!(here.name(), "worker-1");
/// assert_eq!(here.addr().port(), 9705);
/// assert_eq!(here.to_string(), "worker-1@127.0.0.1:9705");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    name: String,
    addr: SocketAddr,
}

/// Why a string or a name is not a [`Location`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocationError {
    /// No `@` between the name and the address.
    NoSeparator,
    /// The name is empty or longer than 255 bytes (it travels in the handshake's hello).
    BadName(usize),
    /// The part after the last `@` is not `ip:port` (IPv6 in brackets).
    BadAddress(String),
}

impl fmt::Display for LocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocationError::NoSeparator => f.write_str("a location is name@address (no '@' found)"),
            LocationError::BadName(len) => write!(f, "a node name is 1 to 255 bytes, not {len}"),
            LocationError::BadAddress(addr) => write!(f, "{addr:?} is not an ip:port address"),
        }
    }
}

impl std::error::Error for LocationError {}

impl Location {
    /// A location; fails if the name is empty or longer than 255 bytes.
    pub fn new(name: impl Into<String>, addr: SocketAddr) -> Result<Location, LocationError> {
        let name = name.into();
        if name.is_empty() || name.len() > 255 {
            return Err(LocationError::BadName(name.len()));
        }
        Ok(Location { name, addr })
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address its peers dial.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.addr)
    }
}

impl FromStr for Location {
    type Err = LocationError;

    /// Splits at the last `@`, so a name may contain `@` (an address never does).
    fn from_str(s: &str) -> Result<Location, LocationError> {
        let (name, addr) = s.rsplit_once('@').ok_or(LocationError::NoSeparator)?;
        let addr = addr.parse().map_err(|_| LocationError::BadAddress(addr.to_owned()))?;
        Location::new(name, addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_print_and_parse_back() {
        for text in ["a@127.0.0.1:1", "worker-1@10.0.0.7:9705", "n@[::1]:9705", "odd@name@[fe80::1]:80"] {
            let location: Location = text.parse().unwrap();
            assert_eq!(location.to_string(), text);
            let wire = postcard::to_allocvec(&location).unwrap();
            assert_eq!(postcard::from_bytes::<Location>(&wire).unwrap(), location);
        }
        let odd: Location = "odd@name@[fe80::1]:80".parse().unwrap();
        assert_eq!(odd.name(), "odd@name");
    }

    #[test]
    fn malformed_locations_say_what_is_wrong() {
        assert_eq!("127.0.0.1:9705".parse::<Location>(), Err(LocationError::NoSeparator));
        assert_eq!("@127.0.0.1:9705".parse::<Location>(), Err(LocationError::BadName(0)));
        assert!(
            matches!("n@localhost:9705".parse::<Location>(), Err(LocationError::BadAddress(a)) if a == "localhost:9705")
        );
        assert!(matches!("n@127.0.0.1".parse::<Location>(), Err(LocationError::BadAddress(_))));
        let long = format!("{}@127.0.0.1:1", "x".repeat(256));
        assert_eq!(long.parse::<Location>(), Err(LocationError::BadName(256)));
        assert!(LocationError::BadName(256).to_string().contains("1 to 255"));
    }
}
