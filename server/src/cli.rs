//! The command line: `serve` (the default), `migrate`, `user add`, `token create`, `import`,
//! `plugins list`, `key import`/`key show`. Errors end here, printed with their context, as a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use herald_storage::{
    Db, accounts::NewApiToken, accounts::NewUser, accounts::OrgKind, accounts::Role,
    accounts::Scope,
};

use crate::config::Config;

#[derive(Parser, Debug)]
#[command(
    name = "herald",
    version,
    about = "Security advisories (CSAF 2.0) and notifications for a medical-device maker's hospital customers."
)]
pub struct Cli {
    /// Settings file (TOML); default: ./herald.toml when it exists. HERALD_* variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server and the delivery workers (the default command).
    Serve(ServeArgs),
    /// Create or update the database schema, then exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Validate and publish CSAF documents from files or folders (*.json, recursively).
    Import(ImportArgs),
    /// Manage delivery plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// Manage the OpenPGP key that signs every published CSAF document.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Make an ASCII-armoured OpenPGP secret key (v4, e.g. `gpg --export-secret-keys --armor`)
    /// the signing key. The previous key stays published so older signatures keep verifying.
    /// The key is stored unencrypted in the database.
    Import(KeyImportArgs),
    /// Show the active signing key (generated now if there is none) and every retired key.
    Show,
}

#[derive(Args, Debug)]
pub struct KeyImportArgs {
    /// The armoured secret key file.
    pub file: PathBuf,
    /// Read the key's passphrase from standard input (first line).
    #[arg(long)]
    pub passphrase_stdin: bool,
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Seed demo data (a manufacturer, a hospital, advisories, sign-ins) when the database is empty.
    #[arg(long)]
    pub demo: bool,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user; prints the generated password once unless --password-stdin is given.
    Add(UserAddArgs),
}

#[derive(Args, Debug)]
pub struct UserAddArgs {
    /// Organization name; created if it does not exist.
    #[arg(long)]
    pub org: String,
    /// Kind of a newly created organization.
    #[arg(long, value_enum, default_value_t = OrgKindArg::Hospital)]
    pub org_kind: OrgKindArg,
    #[arg(long)]
    pub email: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    #[arg(long, value_enum, default_value_t = RoleArg::Viewer)]
    pub role: RoleArg,
    /// Read the password from standard input instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token; it is printed once and stored only as a hash.
    Create(TokenCreateArgs),
}

#[derive(Args, Debug)]
pub struct TokenCreateArgs {
    /// Organization the token acts for (must exist; the manufacturer is created at first start).
    #[arg(long)]
    pub org: String,
    /// A name to recognise the token by.
    #[arg(long)]
    pub name: String,
    /// Scopes: publish, read, admin, metrics (repeat or separate with commas).
    #[arg(long = "scope", value_enum, value_delimiter = ',', required = true)]
    pub scopes: Vec<ScopeArg>,
    /// Days until the token expires (default: never).
    #[arg(long)]
    pub expires_in_days: Option<u32>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// CSAF JSON files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum PluginsCommand {
    /// List the plugins found in the plugin folder, with version, hash and capabilities.
    List,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OrgKindArg {
    Manufacturer,
    Hospital,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RoleArg {
    Admin,
    Publisher,
    Approver,
    Viewer,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScopeArg {
    Publish,
    Read,
    Admin,
    /// `/metrics` only.
    Metrics,
}

impl From<OrgKindArg> for OrgKind {
    fn from(k: OrgKindArg) -> Self {
        match k {
            OrgKindArg::Manufacturer => Self::Manufacturer,
            OrgKindArg::Hospital => Self::Hospital,
        }
    }
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Self::Admin,
            RoleArg::Publisher => Self::Publisher,
            RoleArg::Approver => Self::Approver,
            RoleArg::Viewer => Self::Viewer,
        }
    }
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Self {
        match s {
            ScopeArg::Publish => Self::Publish,
            ScopeArg::Read => Self::Read,
            ScopeArg::Admin => Self::Admin,
            ScopeArg::Metrics => Self::Metrics,
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("herald: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    crate::telemetry::init(config.json_logs, matches!(command, Command::Serve(_)));
    match command {
        Command::Serve(args) => {
            crate::serve::serve(config, args.demo)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            open_db(&config)?;
            println!(
                "database is up to date ({})",
                config.database_url_redacted()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Add(args)) => user_add(&config, args),
        Command::Token(TokenCommand::Create(args)) => token_create(&config, args),
        Command::Import(args) => import(&config, &args.paths),
        Command::Plugins(PluginsCommand::List) => plugins_list(&config),
        Command::Key(KeyCommand::Import(args)) => key_import(&config, &args),
        Command::Key(KeyCommand::Show) => key_show(&config),
    }
}

/// Connects, migrates and makes sure the manufacturer organization exists.
pub fn open_db(config: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(&config.database_url)
        .with_context(|| format!("opening the database {}", config.database_url_redacted()))?;
    db.migrate().context("migrating the database")?;
    let mut conn = db.get()?;
    herald_storage::accounts::ensure_organization(
        &mut conn,
        OrgKind::Manufacturer,
        &config.publisher_name,
    )
    .context("creating the manufacturer organization")?;
    Ok(db)
}

fn user_add(config: &Config, args: UserAddArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(config)?;
    let mut conn = db.get()?;
    let (password, generated) = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let p = line.trim_end_matches(['\r', '\n']).to_owned();
        if p.len() < 12 {
            bail!("the password must have at least 12 characters");
        }
        (p, false)
    } else {
        (herald_storage::accounts::random_password(18), true)
    };
    let org =
        herald_storage::accounts::ensure_organization(&mut conn, args.org_kind.into(), &args.org)?;
    let user = herald_storage::accounts::create_user(
        &mut conn,
        &NewUser {
            org_id: &org.id,
            email: &args.email,
            display_name: &args.name,
            password: &password,
            role: args.role.into(),
        },
    )
    .with_context(|| format!("adding user {}", args.email))?;
    println!("added user {} ({}) to {}", user.email, user.id, org.name);
    if generated {
        println!("password: {password}");
    }
    Ok(ExitCode::SUCCESS)
}

fn token_create(config: &Config, args: TokenCreateArgs) -> anyhow::Result<ExitCode> {
    let db = open_db(config)?;
    let mut conn = db.get()?;
    let org = herald_storage::accounts::find_organization_by_slug(
        &mut conn,
        &herald_storage::accounts::slugify(&args.org),
    )?
    .with_context(|| format!("no organization named {:?}", args.org))?;
    let scopes: Vec<Scope> = args.scopes.iter().copied().map(Scope::from).collect();
    let expires = args
        .expires_in_days
        .map(|d| chrono::Utc::now() + chrono::Duration::days(i64::from(d)));
    let created = herald_storage::accounts::create_api_token(
        &mut conn,
        &NewApiToken {
            org_id: &org.id,
            user_id: None,
            name: &args.name,
            scopes: &scopes,
            expires_at: expires,
        },
        "cli",
    )?;
    eprintln!(
        "created token {} for {} with scopes {:?}; it is shown only now:",
        created.info.id, org.name, scopes
    );
    println!("{}", created.token);
    Ok(ExitCode::SUCCESS)
}

/// Every `*.json` below the given paths, sorted so that imports are repeatable.
fn collect_json(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let meta = std::fs::metadata(p).with_context(|| format!("reading {}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("listing {}", p.display()))?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()?;
            entries.sort();
            for e in entries {
                if e.is_dir() || e.extension().is_some_and(|x| x == "json") {
                    walk(&e, out)?;
                }
            }
        } else {
            out.push(p.to_owned());
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out)?;
    }
    Ok(out)
}

fn import(config: &Config, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let db = open_db(config)?;
    let mut conn = db.get()?;
    let org = herald_storage::accounts::ensure_organization(
        &mut conn,
        OrgKind::Manufacturer,
        &config.publisher_name,
    )?;
    let files = collect_json(paths)?;
    let (mut ok, mut failed) = (0usize, 0usize);
    for file in &files {
        let meta =
            std::fs::metadata(file).with_context(|| format!("reading {}", file.display()))?;
        if meta.len() > herald_csaf::MAX_DOCUMENT_BYTES as u64 {
            failed += 1;
            eprintln!(
                "{}: refused: {} bytes is over the {} byte limit",
                file.display(),
                meta.len(),
                herald_csaf::MAX_DOCUMENT_BYTES
            );
            continue;
        }
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        match crate::publish::publish_document(&mut conn, config, &bytes, &org.id, "cli:import") {
            Ok(p) => {
                ok += 1;
                println!(
                    "{}: published {} version {} ({}) at {}",
                    file.display(),
                    p.tracking_id,
                    p.version,
                    p.event,
                    p.csaf_url
                );
                for w in &p.warnings {
                    println!("  warning {} at {}: {}", w.test_id, w.path, w.message);
                }
            }
            Err(crate::publish::PublishError::Invalid(r)) => {
                failed += 1;
                eprintln!("{}: refused, not valid CSAF 2.0:", file.display());
                for f in r.errors() {
                    eprintln!("  {} at {}: {}", f.test_id, f.path, f.message);
                }
                for f in r
                    .findings
                    .iter()
                    .filter(|f| f.severity != herald_csaf::Severity::Error)
                {
                    eprintln!("  (warning {} at {}: {})", f.test_id, f.path, f.message);
                }
            }
            Err(crate::publish::PublishError::Conflict(m)) => {
                failed += 1;
                eprintln!("{}: refused: {m}", file.display());
            }
            Err(e) => return Err(e).with_context(|| format!("publishing {}", file.display())),
        }
    }
    println!("{ok} published, {failed} refused");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn plugins_list(config: &Config) -> anyhow::Result<ExitCode> {
    let host = crate::serve::load_plugins(config)?;
    let plugins = host.list();
    if plugins.is_empty() {
        println!(
            "no plugins in {} (build them with scripts/build-wasm plugins)",
            config.plugin_dir.display()
        );
    }
    for p in plugins {
        println!(
            "{}\t{}\tsha256:{}\tcapabilities: {}",
            p.id,
            p.version,
            p.sha256,
            p.capabilities
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn key_import(config: &Config, args: &KeyImportArgs) -> anyhow::Result<ExitCode> {
    let armored = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let passphrase = if args.passphrase_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the passphrase from standard input")?;
        Some(line.trim_end_matches(['\r', '\n']).to_owned())
    } else {
        None
    };
    let db = open_db(config)?;
    let mut conn = db.get()?;
    let key = crate::publish::import_signing_key(
        &mut conn,
        config,
        &armored,
        passphrase.as_deref(),
        "cli",
    )
    .with_context(|| format!("importing {}", args.file.display()))?;
    println!(
        "signing key {} ({}) is now active; new publications are signed with it",
        key.fingerprint(),
        key.user_ids().join(", ")
    );
    eprintln!("note: the secret key is stored unencrypted in the database");
    Ok(ExitCode::SUCCESS)
}

fn key_show(config: &Config) -> anyhow::Result<ExitCode> {
    let db = open_db(config)?;
    let mut conn = db.get()?;
    let active =
        crate::publish::signing_key(&mut conn, config).context("loading the signing key")?;
    for k in herald_storage::keys::list_signing_keys(&mut conn)? {
        let state = match k.retired_at {
            _ if k.active => "active".to_owned(),
            Some(at) => format!("retired {}", at.to_rfc3339()),
            None => "inactive".to_owned(),
        };
        println!(
            "{}\t{}\t{:?}\tcreated {}\t{}",
            k.fingerprint,
            state,
            k.origin,
            k.created_at.to_rfc3339(),
            k.user_id
        );
    }
    println!(
        "public key: {}/.well-known/csaf/openpgp/{}.asc",
        config.base_url,
        active.fingerprint()
    );
    println!("{}", active.public_key_armored()?);
    Ok(ExitCode::SUCCESS)
}
