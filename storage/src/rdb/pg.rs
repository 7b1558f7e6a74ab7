//! The PostgreSQL side of [`super::sql::Conn`]: a session with its prepared statements,
//! and [`Val`]s bound to whatever type the server infers for a parameter.

use std::time::Duration;

use postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
use time::PrimitiveDateTime;

use super::DbError;
use super::sql::Val;

/// A PostgreSQL session and its prepared statements.
pub struct PgConn {
    client: postgres::Client,
    prepared: std::collections::HashMap<String, postgres::Statement>,
}

impl PgConn {
    /// Connects to a PostgreSQL server.
    pub(crate) fn connect(conninfo: &str, connect_timeout: Duration) -> Result<PgConn, DbError> {
        let mut config: postgres::Config = conninfo.parse().map_err(DbError::from)?;
        config.connect_timeout(connect_timeout);
        let client = config.connect(postgres::NoTls).map_err(DbError::from)?;
        Ok(PgConn {
            client,
            prepared: Default::default(),
        })
    }

    /// Runs statements without parameters.
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).map_err(DbError::from)
    }

    /// Runs one statement; returns the rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64, DbError> {
        let stmt = self.prepare(sql)?;
        let p = pg_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        Ok(self.client.execute(&stmt, &refs)?)
    }

    /// Runs one query; returns its rows.
    pub(crate) fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>, DbError> {
        let stmt = self.prepare(sql)?;
        let p = pg_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = p.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = self.client.query(&stmt, &refs)?;
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

    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
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
