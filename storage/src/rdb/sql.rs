//! One connection to SQLite or PostgreSQL, spoken in one SQL: statements are written with
//! PostgreSQL's `$1` placeholders (SQLite reads them as `?1`), values go in and out as
//! [`Val`], and PostgreSQL parameters take the type the server infers for them (`integer`,
//! `double precision`, Optuna's enum types, `timestamp`).

use std::time::Duration;

use time::PrimitiveDateTime;
use time::macros::format_description;

use super::DbError;

/// A value going into or coming out of a statement.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Val {
    /// SQL NULL.
    #[default]
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Real(f64),
    /// Text (also an enum member's name).
    Text(String),
    /// A naive UTC timestamp.
    Time(PrimitiveDateTime),
}

impl Val {
    /// The integer, if the value is one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The float (an integer counts), or `None` for NULL.
    pub fn real(&self) -> Option<f64> {
        match self {
            Val::Real(f) => Some(*f),
            Val::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The text, if the value is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The timestamp: PostgreSQL's `timestamp`, or SQLite's text as SQLAlchemy writes it
    /// (`2026-12-05 21:12:01.615775`, the fraction optional).
    pub fn time(&self) -> Option<PrimitiveDateTime> {
        match self {
            Val::Time(t) => Some(*t),
            Val::Text(s) => parse_sqlite_time(s),
            _ => None,
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::Real(v)
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_string())
    }
}

impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}

impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}

impl From<PrimitiveDateTime> for Val {
    fn from(v: PrimitiveDateTime) -> Val {
        Val::Time(v)
    }
}

/// SQLAlchemy's SQLite `DATETIME` text: `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn format_sqlite_time(t: PrimitiveDateTime) -> String {
    t.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    ))
    .unwrap_or_default()
}

fn parse_sqlite_time(s: &str) -> Option<PrimitiveDateTime> {
    let s = s.trim().replace('T', " ");
    PrimitiveDateTime::parse(
        &s,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"),
    )
    .or_else(|_| {
        PrimitiveDateTime::parse(
            &s,
            format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        )
    })
    .ok()
}

/// Which database a connection talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (embedded).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// One open connection.
pub enum Conn {
    /// An SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL session.
    #[cfg(feature = "postgres")]
    Postgres(Box<super::pg::PgConn>),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Sqlite(_) => "Conn::Sqlite",
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => "Conn::Postgres",
        })
    }
}

/// `$1` → `?1`: SQLite numbers its parameters the same way with `?NNN`.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

fn sqlite_param(v: &Val) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match v {
        Val::Null => Value::Null,
        Val::Int(i) => Value::Integer(*i),
        Val::Real(f) => Value::Real(*f),
        Val::Text(s) => Value::Text(s.clone()),
        Val::Time(t) => Value::Text(format_sqlite_time(*t)),
    }
}

impl Conn {
    /// Opens (creating it if missing) an SQLite file; writers wait up to `busy` for each
    /// other.
    pub fn sqlite(path: &std::path::Path, busy: Duration) -> Result<Conn, DbError> {
        let c = rusqlite::Connection::open(path).map_err(DbError::from)?;
        c.busy_timeout(busy).map_err(DbError::from)?;
        Ok(Conn::Sqlite(c))
    }

    /// Connects to a PostgreSQL server.
    #[cfg(feature = "postgres")]
    pub fn postgres(conninfo: &str, connect_timeout: Duration) -> Result<Conn, DbError> {
        Ok(Conn::Postgres(Box::new(super::pg::PgConn::connect(
            conninfo,
            connect_timeout,
        )?)))
    }

    /// The database this connection talks to.
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs statements without parameters.
    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(DbError::from),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.batch(sql),
        }
    }

    /// Starts a transaction (on PostgreSQL `BEGIN` is sent with the next statement).
    pub fn begin(&mut self) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => c.execute_batch("BEGIN").map_err(DbError::from),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => {
                c.begin();
                Ok(())
            }
        }
    }

    /// Commits the transaction.
    pub fn commit(&mut self) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => c.execute_batch("COMMIT").map_err(DbError::from),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.commit(),
        }
    }

    /// Rolls the transaction back.
    pub fn rollback(&mut self) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => c.execute_batch("ROLLBACK").map_err(DbError::from),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.rollback(),
        }
    }

    /// Runs a query whose rows nobody reads: on PostgreSQL it is sent with the next
    /// statement (pipelined, see `pg`), which reports an error it meets; on SQLite it runs
    /// now.
    pub fn defer(&mut self, sql: &str, params: &[Val]) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(_) => self.query(sql, params).map(drop),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.defer(sql, params),
        }
    }

    /// Runs one statement; returns the rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(&sqlite_sql(sql))?;
                let p: Vec<rusqlite::types::Value> = params.iter().map(sqlite_param).collect();
                Ok(stmt.execute(rusqlite::params_from_iter(p))? as u64)
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.execute(sql, params),
        }
    }

    /// Runs one query; returns its rows.
    pub fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, DbError> {
        match self {
            Conn::Sqlite(c) => {
                let mut stmt = c.prepare_cached(&sqlite_sql(sql))?;
                let n = stmt.column_count();
                let p: Vec<rusqlite::types::Value> = params.iter().map(sqlite_param).collect();
                let mut rows = stmt.query(rusqlite::params_from_iter(p))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let mut vals = Vec::with_capacity(n);
                    for i in 0..n {
                        use rusqlite::types::ValueRef;
                        vals.push(match row.get_ref(i)? {
                            ValueRef::Null => Val::Null,
                            ValueRef::Integer(i) => Val::Int(i),
                            ValueRef::Real(f) => Val::Real(f),
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                Val::Text(String::from_utf8_lossy(t).into_owned())
                            }
                        });
                    }
                    out.push(vals);
                }
                Ok(out)
            }
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.query(sql, params),
        }
    }

    /// Runs queries in order; returns each one's rows. On PostgreSQL they are sent
    /// together (one round trip; the server still runs each only once the one before it
    /// has finished, and each sees what was committed before it started).
    pub fn queries(&mut self, queries: &[(&str, &[Val])]) -> Result<Vec<Vec<Vec<Val>>>, DbError> {
        match self {
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.queries(queries),
            _ => queries.iter().map(|(sql, p)| self.query(sql, p)).collect(),
        }
    }

    /// Runs the transaction's last statement, a query, and commits; returns its rows. On
    /// PostgreSQL both go in one round trip, so the query's rows are read only after the
    /// commit: a statement that checks something (a trial still running, a count) must
    /// write nothing when its check fails. Where the query fails, nothing is committed.
    pub fn query_and_commit(
        &mut self,
        sql: &str,
        params: &[Val],
    ) -> Result<Vec<Vec<Val>>, DbError> {
        match self {
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.query_and_commit(sql, params),
            _ => {
                let rows = self.query(sql, params)?;
                self.commit()?;
                Ok(rows)
            }
        }
    }

    /// The first column of the first row, if any.
    pub fn query_one(&mut self, sql: &str, params: &[Val]) -> Result<Option<Val>, DbError> {
        Ok(self
            .query(sql, params)?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next()))
    }
}
