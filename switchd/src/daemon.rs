//! `switchd run`: loads the configuration, creates the bridges, starts the
//! OpenFlow channel and the management socket, and waits for SIGTERM or
//! SIGINT to shut everything down cleanly.
//!
//! # Shape
//!
//! A configuration mistake is reported before anything is created, as one
//! line on stderr, and exits with status 2; a failure to create something
//! (a missing interface, a busy socket) exits with status 1 after undoing
//! what was created. The datapath runs on its own threads; tokio carries
//! the control plane (channel connections, the management socket, signals)
//! on one worker thread, as Open vSwitch runs its control plane on one main
//! thread: a second worker had nothing to do but be woken by every socket
//! event while the first was polling a connection (see
//! `channel::connection`), and management commands that block go to the
//! runtime's blocking pool. On shutdown the channel and management tasks
//! stop first, then every bridge stops its threads and removes the TAP and
//! internal devices it created; interfaces it did not create are left as
//! they were.
//!
//! The allocator keeps one arena ([`one_malloc_arena`]): the forwarding
//! threads allocate nothing per packet, so they gain nothing from arenas
//! of their own, while flow tables built by one control thread and freed
//! by another would otherwise leave each arena holding its own free
//! memory (replacing a 100,000-rule table twice took the resident set from
//! 67 to 104 MiB).

use crate::bridge::{Switch, SwitchOptions};
use crate::channel::serve::{serve as serve_channel, ChannelOptions};
use crate::channel::tls::TlsFiles;
use crate::cli::RunArgs;
use crate::config;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit status of a configuration mistake.
pub const EXIT_CONFIG: u8 = 2;
/// Exit status of a runtime failure.
pub const EXIT_FAILURE: u8 = 1;

/// Installs the stderr logger (`RUST_LOG`, default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Makes every thread allocate from glibc's main arena (see the module
/// notes); a no-op on other C libraries.
pub fn one_malloc_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; called before the
    // daemon starts its threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Runs the daemon until a signal; returns the exit status.
pub fn run(args: &RunArgs) -> ExitCode {
    one_malloc_arena();
    let env_run_dir = std::env::var(config::RUN_DIR_ENV).ok();
    let cfg = match config::load(&args.flags(), env_run_dir.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("switchd: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_logging();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("switchd-ctl")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchd: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let tls = match (
        &args.ssl_private_key,
        &args.ssl_certificate,
        &args.ssl_ca_cert,
    ) {
        (Some(k), Some(c), Some(ca)) => Some(TlsFiles {
            private_key: k.clone(),
            certificate: c.clone(),
            ca_cert: ca.clone(),
        }),
        _ => None,
    };
    let code = rt.block_on(async move {
        match serve(cfg, tls, packet_in_settings(args)).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("switchd: {e}");
                ExitCode::from(EXIT_FAILURE)
            }
        }
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

fn make_dir(dir: &std::path::Path, what: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{what} {}: {e}", dir.display()))
}

/// The channel tunables the command line sets.
fn packet_in_settings(args: &RunArgs) -> crate::channel::ChannelSettings {
    let mut settings = crate::channel::ChannelSettings::default();
    if let Some(rate) = args.packet_in_rate {
        settings.packet_in_rate = rate;
    }
    if let Some(burst) = args.packet_in_burst {
        settings.packet_in_burst = burst.max(1);
    }
    settings
}

async fn serve(
    cfg: config::Config,
    tls: Option<TlsFiles>,
    settings: crate::channel::ChannelSettings,
) -> Result<(), String> {
    make_dir(&cfg.run_dir, "run dir")?;
    make_dir(&cfg.state_dir, "state dir")?;
    let switch = Arc::new(
        Switch::new(SwitchOptions {
            run_dir: cfg.run_dir.clone(),
            state_dir: cfg.state_dir.clone(),
            io: crate::bridge::IoMode::Os,
        })
        .map_err(|e| e.to_string())?,
    );
    for b in &cfg.bridges {
        if let Err(e) = switch.add_bridge(b.clone()) {
            switch.shutdown();
            return Err(format!("bridge \"{}\": {e}", b.name));
        }
    }
    let mgmt = match crate::mgmt::start(Arc::clone(&switch)) {
        Ok(m) => m,
        Err(e) => {
            switch.shutdown();
            return Err(e);
        }
    };
    let opts = ChannelOptions {
        run_dir: cfg.run_dir.clone(),
        tls,
        settings,
    };
    let channel = {
        let sw = Arc::clone(&switch);
        tokio::spawn(async move { serve_channel(sw, opts).await })
    };
    for b in switch.bridges() {
        let ports: Vec<String> = b
            .ports()
            .into_iter()
            .map(|p| format!("{}={}", p.name, p.ofport))
            .collect();
        tracing::info!(bridge = %b.name, dpid = format!("{:016x}", b.dpid), threads = b.threads(), ports = %ports.join(","), "bridge ready");
    }
    tracing::info!(run_dir = %cfg.run_dir.display(), "switchd ready");
    let mut channel = channel;
    let outcome = tokio::select! {
        r = wait_for_signal() => r,
        r = &mut channel => match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("channel task: {e}")),
        },
    };
    tracing::info!("shutting down");
    // Connections and listeners first (their socket files go with them),
    // then the management socket, then the bridges.
    channel.abort();
    let _ = channel.await;
    drop(mgmt);
    let sw = Arc::clone(&switch);
    let _ = tokio::task::spawn_blocking(move || sw.shutdown()).await;
    tracing::info!("stopped");
    outcome
}

async fn wait_for_signal() -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("signals: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("signals: {e}"))?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = int.recv() => tracing::info!("SIGINT"),
    }
    Ok(())
}
