//! `herald`: parse the command line, load the configuration, start telemetry, run.

use std::process::ExitCode;

use clap::Parser;
use herald::cli::{Cli, Command, UserCommand};
use herald::config::Config;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Sign(args)) = &cli.command {
        // Signing needs no configuration: a program's developer runs it anywhere.
        return match herald::keys::signing::print(args) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(problem) => {
                eprintln!("herald: {problem}");
                ExitCode::FAILURE
            }
        };
    }
    // A missing .env is normal; a broken one is worth saying.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("herald: cannot read .env: {err}");
        return ExitCode::FAILURE;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("herald: {err}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => {
            for (var, value) in config.describe() {
                println!("{var}={value}");
            }
            ExitCode::SUCCESS
        }
        Command::Healthcheck => match herald::probe::healthz(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("herald: unhealthy: {err}");
                ExitCode::FAILURE
            }
        },
        command => run(command, config),
    }
}

fn run(command: Command, config: Config) -> ExitCode {
    let _telemetry = match herald::telemetry::init(&config.log) {
        Ok(guard) => guard,
        Err(err) => {
            eprintln!("herald: {err}");
            return ExitCode::FAILURE;
        }
    };
    if config.secret_key_ephemeral && matches!(command, Command::Serve) {
        tracing::warn!(
            "SECRET_KEY is not set: using an ephemeral key, so sessions and signed links end \
             when Herald restarts (set SECRET_KEY to keep them)"
        );
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    if let Command::User(UserCommand::CreateAdmin {
        email,
        password_stdin,
    }) = command
    {
        return runtime.block_on(create_admin(&config, &email, password_stdin));
    }
    let result = runtime.block_on(async {
        match command {
            Command::Migrate => herald::app::open_database(&config).await.map(|db| {
                tracing::info!("migrations are up to date");
                drop(db);
            }),
            _ => serve(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "herald stopped with an error");
            ExitCode::FAILURE
        }
    }
}

async fn create_admin(config: &Config, email: &str, password_stdin: bool) -> ExitCode {
    let password = match read_password(password_stdin) {
        Ok(password) => password,
        Err(problem) => {
            eprintln!("herald: {problem}");
            return ExitCode::FAILURE;
        }
    };
    let created = match herald::app::accounts(config).await {
        Ok(accounts) => accounts
            .create_admin(email, &password)
            .await
            .map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    match created {
        Ok(id) => {
            let email = herald::accounts::email::Email::parse(email)
                .map_or(email.to_owned(), |e| e.to_string());
            println!("administrator {email} created (user id {id})");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("herald: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The new administrator's password: prompted on the terminal, or the first line of standard
/// input with `--password-stdin`.
fn read_password(from_stdin: bool) -> Result<String, String> {
    use std::io::IsTerminal;
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|err| format!("cannot read standard input: {err}"))?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            return Err("no password on standard input (send it as the first line)".into());
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err("there is no terminal to ask for the password on; \
                    send it on standard input with --password-stdin"
            .into());
    }
    rpassword::prompt_password("Password for the new administrator: ").map_err(|err| {
        format!(
            "cannot ask for the password ({err}); send it on standard input with --password-stdin"
        )
    })
}

async fn serve(config: Config) -> Result<(), herald::app::AppError> {
    let herald = herald::app::start(config).await?;
    shutdown_signal().await;
    herald.shutdown();
    herald.stopped().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM (what container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received"),
        _ = terminate => tracing::info!("SIGTERM received"),
    }
}
