//! `dropcast-server`: run the drop server and manage its users and tokens.
//!
//! A shell over the `dropcast_server` library: parse flags, load the
//! configuration, call the library, print the result (`--json` for scripts).

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use dropcast_server::repo::Open;
use dropcast_server::{App, Config};
use serde_json::json;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use toml::{Table, Value};

#[derive(Parser)]
#[command(name = "dropcast-server", version, about = "The Dropcast drop server")]
struct Cli {
    /// TOML configuration file [default: $XDG_CONFIG_HOME/dropcast/server.toml if present]
    #[arg(long, global = true, env = "DROPCAST_CONFIG")]
    config: Option<PathBuf>,
    /// Where the database and stored bytes live.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL (sqlite://...); default: a SQLite file in the data dir.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and drops over HTTP (the default command).
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080]
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// URL people reach this server at [default: http://{bind}]
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Print the OpenAPI document.
    Openapi,
    /// Bring the database's schema up to date and exit. Every command does
    /// this first; the serverless functions never do, so a deploy runs it.
    Migrate,
    /// Delete expired drops and abort stale uploads once (`serve` does it
    /// every `cleanup_interval`); with `--sweep`, instead delete what the
    /// store holds of drops no row names, and drops whose bytes are gone.
    Cleanup {
        #[arg(long)]
        sweep: bool,
    },
    /// Handle waiting events (thumbnails), for servers run with
    /// `worker = false`; with `--once`, what is due now and exit.
    Work {
        #[arg(long)]
        once: bool,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user and print an API token for it (shown once).
    Add {
        name: String,
        /// Read a password (for `dropcast login`) from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password, read from standard input.
    Passwd { name: String },
    /// List users.
    List,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Issue a token (shown once). Without USER: the owner account, which is
    /// created first on an empty database.
    Create {
        user: Option<String>,
        /// A label to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List { user: Option<String> },
    /// Revoke a token by its id.
    Revoke {
        /// As `token list` shows it; ids are base64url, so one may start
        /// with `-`.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

fn main() -> Result<()> {
    limit_malloc_arenas();
    let cli = Cli::parse();
    init_logging();
    let mut flags = Table::new();
    if let Some(d) = &cli.data_dir {
        flags.insert("data_dir".into(), Value::String(d.display().to_string()));
    }
    if let Some(u) = &cli.database_url {
        flags.insert("database_url".into(), Value::String(u.clone()));
    }
    if let Some(Command::Serve { bind, public_url }) = &cli.command {
        if let Some(b) = bind {
            flags.insert("bind".into(), Value::String(b.to_string()));
        }
        if let Some(u) = public_url {
            flags.insert("public_url".into(), Value::String(u.clone()));
        }
    }
    let config = Config::load(cli.config.as_deref(), std::env::vars(), flags)?;
    if let Some(Command::Openapi) = cli.command {
        // With this configuration's limits, as the server would serve it.
        println!("{}", dropcast_server::openapi_json(&config));
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli.command, cli.json, config))
}

/// glibc gives each thread that allocates its own arena (up to 8 per core)
/// and keeps freed memory in them; with uploads' buffers passing between
/// the async workers and the blocking pool that shows as RSS growth. Two
/// arenas keep the footprint flat at no measurable cost in throughput.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn init_logging() {
    let level = dropcast_server::log_level();
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(command: Option<Command>, json: bool, config: Config) -> Result<()> {
    let app = App::open(config, Open::Migrate).await?;
    match command.unwrap_or(Command::Serve {
        bind: None,
        public_url: None,
    }) {
        Command::Serve { .. } => serve(app, json).await,
        Command::Migrate => {
            let version = app.repo.schema_version().await?;
            if json {
                println!("{}", json!({ "schema_version": version }));
            } else {
                println!("The database is at schema version {version}.");
            }
            Ok(())
        }
        Command::Cleanup { sweep: false } => {
            let done = dropcast_server::jobs::cleanup::run(&app).await?;
            if json {
                println!("{}", serde_json::to_string(&done)?);
            } else {
                println!("{done}.");
            }
            Ok(())
        }
        Command::Cleanup { sweep: true } => {
            let done = dropcast_server::jobs::cleanup::sweep(&app).await?;
            if json {
                println!("{}", serde_json::to_string(&done)?);
            } else {
                println!("{done}.");
            }
            Ok(())
        }
        Command::Work { once: true } => {
            let handled = app.relay()?.run_once(&app).await?;
            if json {
                println!("{}", json!({ "handled": handled }));
            } else {
                println!("{handled} events handled.");
            }
            Ok(())
        }
        Command::Work { once: false } => {
            app.relay()?.run(app.clone()).await;
            Ok(())
        }
        Command::User(UserCmd::Add {
            name,
            password_stdin,
        }) => {
            let hash = if password_stdin {
                Some(dropcast_server::secrets::hash_password(&read_password()?)?)
            } else {
                None
            };
            let Some(user) = app.repo.create_user(&name, hash.as_deref()).await? else {
                bail!("a user named {name:?} already exists; pick another name");
            };
            let (token_id, token) = app.repo.create_token(&user.id, "user add").await?;
            if json {
                println!(
                    "{}",
                    json!({"user": user.name, "user_id": user.id, "token_id": token_id, "token": token})
                );
            } else {
                println!("Added user {}. API token (shown once):\n{token}", user.name);
            }
            Ok(())
        }
        Command::User(UserCmd::Passwd { name }) => {
            let user = find_user(&app, &name).await?;
            let hash = dropcast_server::secrets::hash_password(&read_password()?)?;
            app.repo.set_password(&user.id, &hash).await?;
            if json {
                println!("{}", json!({"user": user.name, "password_set": true}));
            } else {
                println!("Password set for {}.", user.name);
            }
            Ok(())
        }
        Command::User(UserCmd::List) => {
            let users = app.repo.users().await?;
            if json {
                let list: Vec<_> = users
                    .iter()
                    .map(|u| json!({"id": u.id, "name": u.name, "has_password": u.password_hash.is_some()}))
                    .collect();
                println!("{}", json!({ "users": list }));
            } else {
                for u in users {
                    println!("{}\t{}", u.id, u.name);
                }
            }
            Ok(())
        }
        Command::Token(TokenCmd::Create { user, name }) => {
            let user = match user {
                Some(u) => find_user(&app, &u).await?,
                None => {
                    app.ensure_owner().await?;
                    find_user(&app, &app.config.owner_name).await?
                }
            };
            let (token_id, token) = app.repo.create_token(&user.id, &name).await?;
            if json {
                println!(
                    "{}",
                    json!({"user": user.name, "token_id": token_id, "token": token})
                );
            } else {
                println!(
                    "Token for {} (id {token_id}), shown once:\n{token}",
                    user.name
                );
            }
            Ok(())
        }
        Command::Token(TokenCmd::List { user }) => {
            let tokens = app.repo.tokens(user.as_deref()).await?;
            if json {
                let list: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        json!({"id": t.id, "user": t.user_name, "name": t.name,
                        "created_at": t.created_at, "revoked": t.revoked_at.is_some()})
                    })
                    .collect();
                println!("{}", json!({ "tokens": list }));
            } else {
                for t in tokens {
                    let state = if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "live"
                    };
                    println!("{}\t{}\t{}\t{state}", t.id, t.user_name, t.name);
                }
            }
            Ok(())
        }
        Command::Token(TokenCmd::Revoke { id }) => {
            if !app.repo.revoke_token(&id).await? {
                bail!("no live token with id {id:?}; see `dropcast-server token list`");
            }
            if json {
                println!("{}", json!({"token_id": id, "revoked": true}));
            } else {
                println!("Revoked token {id}.");
            }
            Ok(())
        }
        Command::Openapi => unreachable!("handled before opening the app"),
    }
}

async fn find_user(app: &App, name: &str) -> Result<dropcast_server::repo::UserRow> {
    app.repo
        .user_by_name(name)
        .await?
        .with_context(|| format!("no user named {name:?}; see `dropcast-server user list`"))
}

fn read_password() -> Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("reading the password from standard input")?;
    let password = s.trim_end_matches(['\r', '\n']).to_string();
    if password.chars().count() < 8 {
        bail!("the password must be at least 8 characters");
    }
    Ok(password)
}

async fn serve(app: App, json: bool) -> Result<()> {
    let first = app.ensure_owner().await?;
    let listener = tokio::net::TcpListener::bind(app.config.bind)
        .await
        .with_context(|| {
            format!(
                "listening on {} (in use? pick another with --bind)",
                app.config.bind
            )
        })?;
    let addr = listener.local_addr()?;
    // With --bind 127.0.0.1:0 the port is only known now.
    let url = match &app.config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{addr}"),
    };
    let app = if app.public_url != url {
        let mut config = app.config.clone();
        config.public_url = Some(url.clone());
        App::open(config, Open::Migrate).await?
    } else {
        app
    };
    if json {
        println!(
            "{}",
            json!({"url": url, "bind": addr.to_string(),
                "data_dir": app.config.data_dir.display().to_string(),
                "user": first.as_ref().map(|f| &f.user),
                "token": first.as_ref().map(|f| &f.token)})
        );
    } else {
        println!("Dropcast server listening on {url}");
        println!("Data in {}", app.config.data_dir.display());
        if let Some(f) = &first {
            println!(
                "Created the owner account {:?}. Its API token, shown once:\n{}",
                f.user, f.token
            );
        }
    }
    use std::io::Write;
    std::io::stdout().flush()?;
    app.spawn_background()?;
    let service = app
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    app.flush_views().await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_id_that_starts_with_a_dash_is_an_id_not_a_flag() {
        let cli = Cli::try_parse_from(["dropcast-server", "token", "revoke", "-tqyD42QpnQq3_9w"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            cli.command,
            Some(Command::Token(TokenCmd::Revoke { id })) if id == "-tqyD42QpnQq3_9w"
        ));
    }
}
