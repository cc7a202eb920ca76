//! The `muxserve` binary: parse the configuration, run the server (or `check` or `health`), and
//! turn any startup error into one line on stderr and a non-zero exit. No server logic lives here.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use muxserve::config::{self, Loaded, file::Problems};
use muxserve::site::Site;
use muxserve::{Cli, Command, Outcome, Server, health, log};

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let mut cmd = Cli::command();
    let parsed = cmd
        .try_get_matches_from_mut(&argv)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (m, cli)));
    let (matches, cli) = match parsed {
        Ok(parsed) => parsed,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print as clap does, exit 0.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.render().to_string();
            let mut line = rendered
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .to_string();
            if let Some((arg, var)) = set_by_environment(&cmd, &argv, &e) {
                line = line.replace(&format!("'{arg}'"), &format!("'{arg}' (from {var})"));
            }
            eprintln!("muxserve: {line} (see --help)");
            return ExitCode::from(2);
        }
    };
    let port_env = std::env::var("PORT").ok();
    match &cli.command {
        Some(Command::Health(args)) => check_health(args),
        Some(Command::Check(_)) => check(config::load(&mut cmd, &argv, &matches, port_env)),
        None => {
            match config::load(&mut cmd, &argv, &matches, port_env).and_then(|l| run(l, argv)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error(format_args!("{e:#}"));
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The refused argument as clap names it (`--workers <N>`) and the environment variable its
/// value came from, when it came from one: clap names the flag even for a value read from
/// `MUXSERVE_WORKERS`, which the user never typed after `--workers`.
fn set_by_environment(
    cmd: &clap::Command,
    argv: &[OsString],
    e: &clap::Error,
) -> Option<(String, String)> {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg.split(' ').next()?.strip_prefix("--")?;
    let typed = argv.iter().any(|a| {
        a.to_str().is_some_and(|a| {
            a.strip_prefix("--")
                .is_some_and(|a| a == long || a.starts_with(&format!("{long}=")))
        })
    });
    if typed {
        return None;
    }
    let subcommands = cmd.get_subcommands();
    let var = std::iter::once(cmd)
        .chain(subcommands)
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long))?
        .get_env()?;
    std::env::var_os(var).map(|_| (arg.clone(), var.to_string_lossy().into_owned()))
}

/// Serves `loaded`; `argv` is the command line, parsed again on every SIGHUP.
fn run(loaded: Loaded, argv: Vec<OsString>) -> anyhow::Result<()> {
    let config = loaded.config;
    muxserve::descriptors::raise_soft_limit();
    let root = config.root.clone();
    let workers = config.workers;
    // SIGHUP loads the configuration as the start did: the same arguments, the environment and
    // the config file they name, read again.
    let server = Server::bind(config)?.reload_from(Box::new(move || {
        let mut cmd = Cli::command();
        let matches = cmd
            .try_get_matches_from_mut(&argv)
            .map_err(|e| anyhow::anyhow!("{}", first_line(&e)))?;
        config::load(&mut cmd, &argv, &matches, std::env::var("PORT").ok()).map(|l| l.config)
    }));
    server.shutdown_handle().install_signal_handlers()?;
    server.reload_handle().install_signal_handler()?;
    log::info(format_args!(
        "listening on http://{}/ serving {} with {} workers",
        server.local_addr(),
        root.display(),
        workers
    ));
    match server.run()? {
        Outcome::Drained { drained, cut, late } => log::info(format_args!(
            "stopped: {drained} connections drained, {cut} cut at the deadline \
             ({late} accepted after the signal)"
        )),
        Outcome::Forced => log::info(format_args!("stopped at once by a second signal")),
    }
    Ok(())
}

/// `muxserve check`, as `nginx -t`: every problem one line on stderr and exit 1, or one line
/// saying what would be served and exit 0. It binds nothing.
fn check(loaded: anyhow::Result<Loaded>) -> ExitCode {
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            match e.downcast_ref::<Problems>() {
                Some(Problems(all)) => all.iter().for_each(|p| log::error(format_args!("{p}"))),
                None => log::error(format_args!("{e:#}")),
            }
            return ExitCode::FAILURE;
        }
    };
    let Loaded { config, file } = &loaded;
    match Site::check(&config.root, &config.site) {
        Err(problems) => {
            for p in &problems {
                log::error(format_args!("{p}"));
            }
            ExitCode::FAILURE
        }
        Ok((redirects, headers)) => {
            let from = match file {
                Some(file) => format!("the root's rules files and {}", file.display()),
                None => "the root's rules files".to_string(),
            };
            log::info(format_args!(
                "configuration ok (root {}, {redirects} redirect rules and {headers} header blocks from {from})",
                config.root.display(),
            ));
            ExitCode::SUCCESS
        }
    }
}

/// clap's message without its usage lines, for a reload's one line.
fn first_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    rendered
        .lines()
        .next()
        .unwrap_or("invalid arguments")
        .to_string()
}

/// `muxserve health`: exit 0 when the server answers 2xx or 3xx, 1 otherwise, saying why.
fn check_health(args: &muxserve::config::HealthArgs) -> ExitCode {
    let url = args.url.clone().unwrap_or_else(|| {
        health::default_url(
            args.listen.as_deref(),
            args.port.as_deref(),
            args.health_path.as_deref(),
        )
    });
    let preface = if args.proxy_protocol {
        health::Preface::ProxyUnknown
    } else {
        health::Preface::None
    };
    match health::check(&url, args.timeout, preface) {
        Ok(status) if (200..400).contains(&status) => {
            println!("healthy: {url} answered {status}");
            ExitCode::SUCCESS
        }
        Ok(status) => {
            eprintln!("unhealthy: {url} answered {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
