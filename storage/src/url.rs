//! Optuna's storage URLs: which storage a `--storage` argument names.

use std::path::PathBuf;

/// What a `--storage` argument names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageUrl {
    /// A journal file (Optuna's `JournalFileBackend`): any argument that is not a URL.
    Journal(PathBuf),
    /// `sqlite:///relative.db` or `sqlite:////absolute.db`: Optuna's RDB schema in an
    /// SQLite file.
    Sqlite(PathBuf),
    /// `postgresql://user:pass@host:port/db` (also `postgres://`, `postgresql+psycopg2://`
    /// and `postgresql+psycopg://`): Optuna's RDB schema on a PostgreSQL server.
    Postgres(PostgresUrl),
    /// `redis://host:port/db`: Optuna's `JournalRedisBackend`.
    Redis(RedisUrl),
}

/// A PostgreSQL server and database.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    /// The URL as `tokio-postgres` (the Rust driver) takes it: `postgresql://…` without the
    /// SQLAlchemy driver suffix.
    pub conninfo: String,
    /// The URL with the password replaced by `***`, for messages.
    pub shown: String,
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// A Redis server, database and key prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// The URL as the `redis` crate takes it.
    pub url: String,
    /// The URL with the password replaced by `***`, for messages.
    pub shown: String,
    /// Optuna's `prefix` argument of `JournalRedisBackend` (`""` by default): the keys are
    /// `{prefix}:log_number` and `{prefix}:log:{n}`. Given as `?prefix=NAME`.
    pub prefix: String,
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// A `--storage` argument that names no storage sweeplab can open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--storage {shown}: {why}")]
pub struct UrlError {
    /// The argument, password hidden.
    pub shown: String,
    /// What is wrong.
    pub why: String,
}

/// The schemes sweeplab understands, for messages and `--help`.
pub const SCHEMES: &str = "a journal file path, sqlite:///FILE, postgresql://USER:PASS@HOST:PORT/DB or redis://HOST:PORT/DB";

impl StorageUrl {
    /// Parses a `--storage` argument. Anything without `://` is a journal file path.
    pub fn parse(arg: &str) -> Result<StorageUrl, UrlError> {
        let Some((scheme, rest)) = arg.split_once("://") else {
            if arg.trim().is_empty() {
                return Err(UrlError {
                    shown: "''".into(),
                    why: format!("empty; give {SCHEMES}"),
                });
            }
            return Ok(StorageUrl::Journal(PathBuf::from(arg)));
        };
        let shown = hide_password(arg);
        let err = |why: String| UrlError {
            shown: shown.clone(),
            why,
        };
        let base = scheme
            .split('+')
            .next()
            .unwrap_or(scheme)
            .to_ascii_lowercase();
        match base.as_str() {
            "sqlite" => {
                // SQLAlchemy: `sqlite:///rel.db` is relative, `sqlite:////abs.db` absolute;
                // the part before the third slash is a host, which SQLite cannot have.
                let Some(path) = rest.strip_prefix('/') else {
                    return Err(err(
                        "an SQLite URL has three slashes and a file: sqlite:///study.db (relative) or sqlite:////tmp/study.db (absolute)".into(),
                    ));
                };
                let path = path.split('?').next().unwrap_or(path);
                if path.is_empty() || path == ":memory:" {
                    return Err(err(
                        "no database file (an in-memory SQLite database would be lost when the command ends)".into(),
                    ));
                }
                let decoded = percent_encoding::percent_decode_str(path)
                    .decode_utf8()
                    .map_err(|_| err("the file name is not valid UTF-8 once %-decoded".into()))?;
                Ok(StorageUrl::Sqlite(PathBuf::from(decoded.as_ref())))
            }
            "postgresql" | "postgres" => {
                if let Some(driver) = scheme.split_once('+').map(|(_, d)| d)
                    && !matches!(driver, "psycopg2" | "psycopg" | "pg8000" | "asyncpg")
                {
                    return Err(err(format!(
                        "unknown PostgreSQL driver `{driver}`; use postgresql://, postgresql+psycopg2:// or postgresql+psycopg://"
                    )));
                }
                let (authority, db) = split_authority(rest);
                if authority.is_empty() {
                    return Err(err("no server: postgresql://USER:PASS@HOST:PORT/DB".into()));
                }
                if db.is_empty() {
                    return Err(err(
                        "no database name: postgresql://USER:PASS@HOST:PORT/DB".into()
                    ));
                }
                check_port(authority).map_err(err)?;
                Ok(StorageUrl::Postgres(PostgresUrl {
                    conninfo: format!("postgresql://{rest}"),
                    shown,
                }))
            }
            "redis" | "rediss" => {
                let (authority, tail) = split_authority(rest);
                if authority.is_empty() {
                    return Err(err("no server: redis://HOST:PORT/DB".into()));
                }
                check_port(authority).map_err(err)?;
                let (db, query) = tail.split_once('?').unwrap_or((tail, ""));
                if !db.is_empty() && db.parse::<u32>().is_err() {
                    return Err(err(format!(
                        "the database `{db}` is not a number: redis://HOST:PORT/0"
                    )));
                }
                let mut prefix = String::new();
                let mut keep = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    match pair.split_once('=') {
                        Some(("prefix", v)) => {
                            prefix = percent_encoding::percent_decode_str(v)
                                .decode_utf8_lossy()
                                .into_owned();
                        }
                        _ => keep.push(pair),
                    }
                }
                let mut url = format!("{base}://{authority}/{db}");
                if !keep.is_empty() {
                    url.push('?');
                    url.push_str(&keep.join("&"));
                }
                Ok(StorageUrl::Redis(RedisUrl { url, shown, prefix }))
            }
            "mysql" | "mariadb" | "oracle" | "mssql" => {
                Err(err(format!("{base} is not supported; give {SCHEMES}")))
            }
            other => Err(err(format!("unknown scheme `{other}`; give {SCHEMES}"))),
        }
    }

    /// The argument as messages show it (password hidden).
    pub fn shown(&self) -> String {
        match self {
            StorageUrl::Journal(p) => p.display().to_string(),
            StorageUrl::Sqlite(p) => format!("sqlite:///{}", p.display()),
            StorageUrl::Postgres(u) => u.shown.clone(),
            StorageUrl::Redis(u) => u.shown.clone(),
        }
    }
}

/// `user:pass@host:port` and what follows the first `/`.
fn split_authority(rest: &str) -> (&str, &str) {
    rest.split_once('/').unwrap_or((rest, ""))
}

fn check_port(authority: &str) -> Result<(), String> {
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // An IPv6 literal `[::1]:5432` keeps its colons inside the brackets.
    let port = match host.rsplit_once(']') {
        Some((_, after)) => after.strip_prefix(':'),
        None => host.rsplit_once(':').map(|(_, p)| p),
    };
    match port {
        Some(p) if p.parse::<u16>().is_err() => Err(format!("the port `{p}` is not a number")),
        _ => Ok(()),
    }
}

/// `scheme://user:***@host…`: the URL with its password hidden.
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_paths_and_sqlite_files() {
        assert_eq!(
            StorageUrl::parse("runs/journal.log").unwrap(),
            StorageUrl::Journal("runs/journal.log".into())
        );
        assert_eq!(
            StorageUrl::parse("sqlite:///study.db").unwrap(),
            StorageUrl::Sqlite("study.db".into())
        );
        assert_eq!(
            StorageUrl::parse("sqlite:////tmp/a%20b.db").unwrap(),
            StorageUrl::Sqlite("/tmp/a b.db".into())
        );
        assert!(StorageUrl::parse("sqlite://study.db").is_err());
        assert!(StorageUrl::parse("sqlite:///:memory:").is_err());
    }

    #[test]
    fn postgres_spellings_and_hidden_passwords() {
        for scheme in [
            "postgresql",
            "postgres",
            "postgresql+psycopg2",
            "postgresql+psycopg",
        ] {
            let url = format!("{scheme}://u:secret@127.0.0.1:5432/optuna");
            let StorageUrl::Postgres(p) = StorageUrl::parse(&url).unwrap() else {
                panic!("{url}");
            };
            assert_eq!(p.conninfo, "postgresql://u:secret@127.0.0.1:5432/optuna");
            assert!(!p.shown.contains("secret"), "{}", p.shown);
        }
        let e = StorageUrl::parse("postgresql://u:pw@host:54x/db").unwrap_err();
        assert!(
            e.to_string().contains("port `54x`") && !e.to_string().contains("pw"),
            "{e}"
        );
        assert!(StorageUrl::parse("postgresql://u@host:5432/").is_err());
        assert!(StorageUrl::parse("postgresql+odbc://u@host/db").is_err());
    }

    #[test]
    fn redis_urls_take_a_prefix() {
        let StorageUrl::Redis(r) =
            StorageUrl::parse("redis://127.0.0.1:6379/2?prefix=team").unwrap()
        else {
            panic!()
        };
        assert_eq!(r.url, "redis://127.0.0.1:6379/2");
        assert_eq!(r.prefix, "team");
        assert!(StorageUrl::parse("redis://h:1/x").is_err());
        let e = StorageUrl::parse("mongodb://h/db").unwrap_err();
        assert!(e.to_string().contains("unknown scheme `mongodb`"), "{e}");
    }
}
