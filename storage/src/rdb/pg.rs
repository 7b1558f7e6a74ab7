//! The PostgreSQL side of [`super::sql::Conn`]: a session with its prepared statements,
//! and [`Val`]s bound to whatever type the server infers for a parameter.
//!
//! The session runs `tokio-postgres` on a current-thread runtime of its own (what the
//! blocking `postgres` crate does), so that requests can be pipelined: a `BEGIN`, and a
//! statement whose rows nobody reads (the `SELECT … FOR UPDATE` that takes a study's row),
//! are not sent alone but with the next statement, in order, one round trip for all; a
//! transaction rolled back before anything was sent costs none. The server still runs them
//! one after the other, so a statement sent behind a `FOR UPDATE` starts (and, under READ
//! COMMITTED, takes its snapshot) only once the row is held. With a worker on another
//! machine each round trip is a network one: the fewer, the shorter a study's row is held.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use time::PrimitiveDateTime;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

use super::DbError;
use super::sql::Val;

/// A query's rows, as [`Val`]s.
pub(crate) type Rows = Vec<Vec<Val>>;

/// A statement not sent yet.
enum Deferred {
    /// `BEGIN`.
    Begin,
    /// A prepared statement whose rows are dropped.
    Query(tokio_postgres::Statement, Vec<PgIn>),
}

/// One request of a pipeline, awaited: only its error is returned (a statement whose rows
/// are wanted stores them from inside the future).
type Answer<'a> = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + 'a>>;

/// A PostgreSQL session and its prepared statements.
pub struct PgConn {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    prepared: std::collections::HashMap<String, tokio_postgres::Statement>,
    /// Statements that go out with the next one, in order.
    pending: Vec<Deferred>,
}

impl PgConn {
    /// Connects to a PostgreSQL server.
    pub(crate) fn connect(conninfo: &str, connect_timeout: Duration) -> Result<PgConn, DbError> {
        let mut config: tokio_postgres::Config = conninfo.parse().map_err(DbError::from)?;
        config.connect_timeout(connect_timeout);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DbError::Postgres(format!("cannot start the driver's runtime: {e}")))?;
        let (client, connection) = runtime
            .block_on(config.connect(tokio_postgres::NoTls))
            .map_err(DbError::from)?;
        // The socket is served while this session waits on a request (`block_on`); once
        // it fails, every request answers with the error.
        runtime.spawn(connection);
        Ok(PgConn {
            runtime,
            client,
            prepared: Default::default(),
            pending: Vec::new(),
        })
    }

    /// Starts a transaction: `BEGIN` goes out with the next statement.
    pub(crate) fn begin(&mut self) {
        self.pending.push(Deferred::Begin);
    }

    /// Commits; a transaction that has sent nothing yet sends nothing.
    pub(crate) fn commit(&mut self) -> Result<(), DbError> {
        if matches!(self.pending[..], [Deferred::Begin]) {
            self.pending.clear();
            return Ok(());
        }
        self.batch("COMMIT")
    }

    /// Rolls back; what is deferred since `BEGIN` was never sent, and is dropped.
    pub(crate) fn rollback(&mut self) -> Result<(), DbError> {
        if matches!(self.pending.first(), Some(Deferred::Begin)) {
            self.pending.clear();
            return Ok(());
        }
        self.batch("ROLLBACK")
    }

    /// Runs statements without parameters (after what is deferred).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        let pending = std::mem::take(&mut self.pending);
        let client = &self.client;
        send(
            &self.runtime,
            client,
            &pending,
            vec![Box::pin(client.batch_execute(sql))],
        )
    }

    /// Queues a query whose rows nobody reads; it is sent with the next statement, and an
    /// error it meets is that statement's.
    pub(crate) fn defer(&mut self, sql: &str, params: &[Val]) -> Result<(), DbError> {
        let stmt = self.prepare(sql)?;
        self.pending.push(Deferred::Query(stmt, pg_params(params)));
        Ok(())
    }

    /// Runs one statement; returns the rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        let stmt = self.prepare(sql)?;
        let p = pg_params(params);
        let pending = std::mem::take(&mut self.pending);
        let client = &self.client;
        let mut changed = 0;
        let last: Answer<'_> = Box::pin(async {
            changed = client.execute(&stmt, &refs(&p)).await?;
            Ok(())
        });
        send(&self.runtime, client, &pending, vec![last])?;
        Ok(changed)
    }

    /// Runs one query; returns its rows.
    pub(crate) fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, DbError> {
        let mut all = self.pipeline(&[(sql, params)], false)?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Runs queries one after the other on the server, sent together (one round trip):
    /// each statement still starts only once the one before it has finished, and under
    /// READ COMMITTED sees what was committed before it started. Returns each one's rows.
    pub(crate) fn queries(&mut self, queries: &[(&str, &[Val])]) -> Result<Vec<Rows>, DbError> {
        self.pipeline(queries, false)
    }

    /// Runs one query and commits, sent together: the transaction's last statement and
    /// `COMMIT` in one round trip. Where the query fails, the server ends the transaction
    /// with a rollback and the query's error is returned.
    pub(crate) fn query_and_commit(&mut self, sql: &str, params: &[Val]) -> Result<Rows, DbError> {
        let mut all = self.pipeline(&[(sql, params)], true)?;
        Ok(all.pop().unwrap_or_default())
    }

    /// Sends what is deferred, `queries` and, if `commit`, `COMMIT`, pipelined; returns
    /// the queries' rows.
    fn pipeline(&mut self, queries: &[(&str, &[Val])], commit: bool) -> Result<Vec<Rows>, DbError> {
        let mut prepared = Vec::with_capacity(queries.len());
        for (sql, params) in queries {
            prepared.push((self.prepare(sql)?, pg_params(params)));
        }
        let pending = std::mem::take(&mut self.pending);
        let client = &self.client;
        let mut answers: Vec<Vec<tokio_postgres::Row>> = vec![Vec::new(); queries.len()];
        {
            let mut last: Vec<Answer<'_>> = answers
                .iter_mut()
                .zip(&prepared)
                .map(|(slot, (stmt, p))| -> Answer<'_> {
                    Box::pin(async move {
                        *slot = client.query(stmt, &refs(p)).await?;
                        Ok(())
                    })
                })
                .collect();
            if commit {
                last.push(Box::pin(client.batch_execute("COMMIT")));
            }
            send(&self.runtime, client, &pending, last)?;
        }
        let mut out = Vec::with_capacity(answers.len());
        for rows in answers {
            let mut converted = Vec::with_capacity(rows.len());
            for row in rows {
                let mut vals = Vec::with_capacity(row.len());
                for i in 0..row.len() {
                    let PgOut(v) = row.try_get(i)?;
                    vals.push(v);
                }
                converted.push(vals);
            }
            out.push(converted);
        }
        Ok(out)
    }

    fn prepare(&mut self, sql: &str) -> Result<tokio_postgres::Statement, DbError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let client = &self.client;
        let s = self.runtime.block_on(client.prepare(sql))?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// Sends what is deferred and then `last`, pipelined (each request leaves when its
/// future is first polled, and they are polled in order), and waits for every answer;
/// the first error is returned.
fn send<'a>(
    runtime: &tokio::runtime::Runtime,
    client: &'a tokio_postgres::Client,
    pending: &'a [Deferred],
    last: Vec<Answer<'a>>,
) -> Result<(), DbError> {
    let mut all: Vec<Answer<'a>> = pending
        .iter()
        .map(|d| -> Answer<'a> {
            match d {
                Deferred::Begin => Box::pin(client.batch_execute("BEGIN")),
                Deferred::Query(stmt, p) => {
                    Box::pin(async move { client.query(stmt, &refs(p)).await.map(drop) })
                }
            }
        })
        .collect();
    all.extend(last);
    let answers = runtime.block_on(futures_util::future::join_all(all));
    answers
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), |e| Err(DbError::from(e)))
}

fn refs(p: &[PgIn]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
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
        out: &mut tokio_postgres::types::private::BytesMut,
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
