//! The `muxserve` binary: parse the configuration, run the server, and turn any startup error
//! into one line on stderr and a non-zero exit. No server logic lives here.

use std::process::ExitCode;

use clap::Parser;
use muxserve::{Cli, Command, Outcome, Server, health, log};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: print as clap does, exit 0.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.render().to_string();
            let line = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("muxserve: {line} (see --help)");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Health(args)) = &cli.command {
        return check_health(args);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(format_args!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.into_config(std::env::var("PORT").ok())?;
    raise_descriptor_limit();
    let root = config.root.clone();
    let workers = config.workers;
    // SIGHUP parses the same arguments again, so it re-reads whatever they name.
    let server = Server::bind(config)?.reload_from(Box::new(|| {
        let cli = Cli::try_parse().map_err(|e| anyhow::anyhow!("{}", first_line(&e)))?;
        cli.into_config(std::env::var("PORT").ok())
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
        Outcome::Drained { drained, cut } => log::info(format_args!(
            "stopped: {drained} connections drained, {cut} cut at the deadline"
        )),
        Outcome::Forced => log::info(format_args!("stopped at once by a second signal")),
    }
    Ok(())
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
    match health::check(&url, args.timeout) {
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

/// Raises the soft limit on open files to the hard limit, as each connection needs one; the
/// default soft limit of 1024 is far below what a server is allowed.
fn raise_descriptor_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}
