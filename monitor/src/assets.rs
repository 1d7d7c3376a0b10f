//! The page, its script and its style, in the binary: the monitor works with no network and
//! nothing installed.

pub(crate) const INDEX: &str = include_str!("../assets/index.html");
pub(crate) const SCRIPT: &str = include_str!("../assets/app.js");
pub(crate) const STYLE: &str = include_str!("../assets/style.css");
pub(crate) const ICON: &str = include_str!("../assets/favicon.svg");
