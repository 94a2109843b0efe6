//! Test support for the port modules: veth pairs a test creates and always
//! deletes, and the root check that decides whether such a test runs.

use std::process::Command;

/// A veth pair a test created, deleted on drop (also when the test fails).
pub struct Veth(pub String);

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

/// Runs `ip ARGS`; whether it succeeded.
pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether veth pairs can be made here (root and `ip`); without them a test
/// skips, unless `SWITCH_REQUIRE_PEERS` is set, where it fails.
pub fn can_make_veths() -> bool {
    // SAFETY: geteuid has no preconditions.
    let ok = unsafe { libc::geteuid() } == 0 && ip(&["-V"]);
    if !ok {
        assert!(
            std::env::var_os("SWITCH_REQUIRE_PEERS").is_none(),
            "creating a veth pair needs root and `ip`, and SWITCH_REQUIRE_PEERS is set"
        );
        eprintln!("skipped: creating a veth pair needs root and `ip`");
    }
    ok
}

/// Creates the veth pair `{a}`–`{b}`, owned by the returned guard.
pub fn veth(a: &str, b: &str) -> Veth {
    assert!(ip(&["link", "add", a, "type", "veth", "peer", "name", b]));
    Veth(a.to_owned())
}
