//! Stable names of message types, compared at locate time so that a wrong type is refused
//! then, never garbled at decode time.
//!
//! `std::any::type_name` names a type by its full path, and the first segment of a path is the
//! crate that defines it — for a module two binaries both include (`#[path]`, or a copied
//! file) that is each binary's own crate, so the same type would get two names. Dropping the
//! first segment of every path gives one name to the same type in separately compiled
//! binaries; types of a shared library crate lose its name, which both sides lose alike.
//! (`type_name` is documented as best-effort, not stable across compiler versions: both ends
//! should be built by the same toolchain, as they already must agree on the message layout.)

/// The stable name of `M`: its `type_name` with the crate segment of every path dropped,
/// `app::proto::Job<alloc::string::String>` becoming `proto::Job<string::String>`.
pub(crate) fn stable<M: ?Sized>() -> String {
    strip_crates(std::any::type_name::<M>())
}

fn strip_crates(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    // Each path is a run of identifier characters and `::`; generic arguments, tuples,
    // references and arrays separate paths.
    let mut rest = full;
    while !rest.is_empty() {
        let path_len =
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        let (path, tail) = rest.split_at(path_len);
        match path.split_once("::") {
            Some((_crate, inner)) if !inner.is_empty() => out.push_str(inner),
            _ => out.push_str(path),
        }
        let sep_len = tail.find(|c: char| c.is_alphanumeric() || c == '_' || c == ':').unwrap_or(tail.len());
        out.push_str(&tail[..sep_len]);
        rest = &tail[sep_len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crate_segment_of_every_path_is_dropped() {
        assert_eq!(strip_crates("app::proto::Job"), "proto::Job");
        assert_eq!(strip_crates("server::proto::Job"), strip_crates("client::proto::Job"));
        assert_eq!(
            strip_crates("app::Pair<alloc::string::String, (u32, core::option::Option<app::X>)>"),
            "Pair<string::String, (u32, option::Option<X>)>"
        );
        assert_eq!(strip_crates("u64"), "u64");
        assert_eq!(strip_crates("&[u8]"), "&[u8]");
        assert_eq!(strip_crates("[app::A; 4]"), "[A; 4]");
    }

    #[test]
    fn different_types_keep_different_names() {
        assert_ne!(stable::<(u32, String)>(), stable::<(u64, String)>());
        assert_ne!(stable::<Vec<u8>>(), stable::<Vec<i8>>());
        assert_eq!(stable::<String>(), "string::String");
    }
}
