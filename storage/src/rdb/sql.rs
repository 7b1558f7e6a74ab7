//! One connection to SQLite or PostgreSQL, spoken in one SQL: statements are written with
//! PostgreSQL's `$1` placeholders (SQLite reads them as `?1`), values go in and out as
//! [`Val`], and PostgreSQL parameters take the type the server infers for them (`integer`,
//! `double precision`, Optuna's enum types, `timestamp`).

use std::time::Duration;

use postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
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
    Postgres(Box<PgConn>),
}

/// A PostgreSQL session and its prepared statements.
pub struct PgConn {
    client: postgres::Client,
    prepared: std::collections::HashMap<String, postgres::Statement>,
}

impl PgConn {
    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Sqlite(_) => "Conn::Sqlite",
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
    pub fn postgres(conninfo: &str, connect_timeout: Duration) -> Result<Conn, DbError> {
        let mut config: postgres::Config = conninfo.parse().map_err(DbError::from)?;
        config.connect_timeout(connect_timeout);
        let client = config.connect(postgres::NoTls).map_err(DbError::from)?;
        Ok(Conn::Postgres(Box::new(PgConn {
            client,
            prepared: Default::default(),
        })))
    }

    /// The database this connection talks to.
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs statements without parameters.
    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql).map_err(DbError::from),
            Conn::Postgres(c) => c.client.batch_execute(sql).map_err(DbError::from),
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
            Conn::Postgres(c) => {
                let stmt = c.prepare(sql)?;
                let p = pg_params(params);
                let refs: Vec<&(dyn ToSql + Sync)> =
                    p.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                Ok(c.client.execute(&stmt, &refs)?)
            }
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
            Conn::Postgres(c) => {
                let stmt = c.prepare(sql)?;
                let p = pg_params(params);
                let refs: Vec<&(dyn ToSql + Sync)> =
                    p.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                let rows = c.client.query(&stmt, &refs)?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut vals = Vec::with_capacity(row.len());
                    for i in 0..row.len() {
                        let PgOut(v) = row.try_get(i)?;
                        vals.push(v);
                    }
                    out.push(vals);
                }
                Ok(out)
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

fn pg_params(params: &[Val]) -> Vec<PgIn> {
    params.iter().cloned().map(PgIn).collect()
}

/// A [`Val`] bound to a PostgreSQL parameter of whatever type the server inferred.
#[derive(Debug)]
struct PgIn(Val);

impl ToSql for PgIn {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        let bad = || -> Box<dyn std::error::Error + Sync + Send> {
            format!("cannot store {:?} in a column of type {ty}", self.0).into()
        };
        match &self.0 {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i).map_err(|_| bad())?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i).map_err(|_| bad())?.to_sql(ty, out),
                Type::INT8 => i.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
                _ => Err(bad()),
            },
            Val::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(bad()),
            },
            Val::Text(s) => match ty.kind() {
                Kind::Enum(_) => {
                    out.extend_from_slice(s.as_bytes());
                    Ok(IsNull::No)
                }
                _ => s.to_sql(ty, out),
            },
            Val::Time(t) => t.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A PostgreSQL column of any type Optuna's schema uses, as a [`Val`].
struct PgOut(Val);

impl<'a> FromSql<'a> for PgOut {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<PgOut, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgOut(match *ty {
            Type::INT2 => Val::Int(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Val::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Val::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => Val::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Val::Real(f64::from_sql(ty, raw)?),
            Type::BOOL => Val::Int(bool::from_sql(ty, raw)?.into()),
            Type::TIMESTAMP => Val::Time(PrimitiveDateTime::from_sql(ty, raw)?),
            Type::TIMESTAMPTZ => {
                let t = time::OffsetDateTime::from_sql(ty, raw)?.to_offset(time::UtcOffset::UTC);
                Val::Time(PrimitiveDateTime::new(t.date(), t.time()))
            }
            _ => Val::Text(String::from_utf8_lossy(raw).into_owned()),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<PgOut, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgOut(Val::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}
