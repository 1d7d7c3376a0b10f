//! pycos `pipe_grep.py`: a three-stage pipeline, `cat | grep PATTERN | wc -l`, fed by this
//! program and read back by it; the stages are connected by the OS.
//!
//! ```text
//! cargo run --release --example pipe_grep -- [PATTERN]
//! ```

#[path = "support/logging.rs"]
mod logging;

use rycos::process::{Command, Pipeline};
use std::io;

/// Counts the lines of `text` that contain `pattern`, through `cat | grep | wc -l`.
pub async fn count_matches(text: String, pattern: &str) -> io::Result<usize> {
    let mut grep = Command::new("grep");
    grep.arg("--").arg(pattern);
    let mut wc = Command::new("wc");
    wc.arg("-l");
    let out = Pipeline::new().stage(Command::new("cat")).stage(grep).stage(wc).run(text.into_bytes()).await?;
    // grep exits with 1 when nothing matches: not an error here.
    String::from_utf8_lossy(&out.stdout).trim().parse().map_err(io::Error::other)
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let pattern = std::env::args().nth(1).unwrap_or_else(|| "rycos".into());
    rycos::block_on(async {
        let text: String =
            (0..100_000).map(|i| format!("{i}: {}\n", if i % 3 == 0 { "rycos" } else { "pycos" })).collect();
        let count = count_matches(text, &pattern).await?;
        println!("{count} of 100000 lines contain {pattern:?}");
        Ok(())
    })
}
