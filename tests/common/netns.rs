//! Network namespaces and veth pairs for tests that need a real network between processes
//! (`ip`, as root). Everything made here is removed on drop; where namespaces cannot be made
//! (not root, no `ip`), [`Netns::new`] says why and the test skips itself.

use std::process::{Command, Stdio};

/// Runs `ip` with `args`; its complaint if it failed.
pub fn ip(args: &[&str]) -> Result<(), String> {
    run("ip", args)
}

/// Runs `program` with `args`; its complaint if it failed.
pub fn run(program: &str, args: &[&str]) -> Result<(), String> {
    match Command::new(program).args(args).stderr(Stdio::piped()).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run `{program}` ({e}): install iproute2")),
    }
}

/// A network namespace with its loopback up, deleted on drop (with the interfaces in it).
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// `None`, having printed why the test is skipped, where it cannot be made.
    pub fn new(name: &str) -> Option<Netns> {
        let made = ip(&["netns", "add", name]).map(|()| Netns { name: name.to_owned() });
        match made.and_then(|ns| ip(&["-n", name, "link", "set", "lo", "up"]).map(|()| ns)) {
            Ok(ns) => Some(ns),
            Err(why) => {
                eprintln!("skipped: {why} (network namespaces need root and CAP_NET_ADMIN)");
                None
            }
        }
    }

    /// Interfaces moved in from now on use their IPv6 addresses at once, without duplicate
    /// address detection (a second or two of "tentative" addresses a test would wait out).
    pub fn without_dad(&self) -> Result<(), String> {
        for key in ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"] {
            ip(&["netns", "exec", &self.name, "sysctl", "-qw", key])?;
        }
        Ok(())
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// A veth pair: `a` (address `a_addr`) in namespace `a_ns` or in the test's own namespace
/// (`None`), `b` in `b_ns`; both up. The pair goes when its root-namespace end is deleted
/// on drop, or with its namespaces.
pub struct Veth {
    pub a: String,
    pub b: String,
    a_in_root: bool,
}

impl Veth {
    pub fn new(
        a: &str,
        a_ns: Option<&Netns>,
        a_addr: &str,
        b: &str,
        b_ns: &Netns,
        b_addr: &str,
    ) -> Result<Veth, String> {
        ip(&["link", "add", a, "type", "veth", "peer", "name", b])?;
        let veth = Veth { a: a.to_owned(), b: b.to_owned(), a_in_root: a_ns.is_none() };
        let mut steps: Vec<Vec<&str>> = vec![vec!["link", "set", b, "netns", &b_ns.name]];
        let a_prefix: Vec<&str> = match a_ns {
            Some(ns) => {
                steps.push(vec!["link", "set", a, "netns", &ns.name]);
                vec!["-n", &ns.name]
            }
            None => vec![],
        };
        let b_prefix = vec!["-n", b_ns.name.as_str()];
        for (prefix, dev, addr) in [(&a_prefix, a, a_addr), (&b_prefix, b, b_addr)] {
            let mut add = prefix.clone();
            add.extend(["addr", "add", addr, "brd", "+", "dev", dev]);
            steps.push(add);
            let mut up = prefix.clone();
            up.extend(["link", "set", dev, "up"]);
            steps.push(up);
        }
        for step in steps {
            ip(&step)?;
        }
        Ok(veth)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        if self.a_in_root {
            let _ = ip(&["link", "del", &self.a]);
        }
    }
}
