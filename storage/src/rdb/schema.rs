//! Optuna 5.0's RDB schema (`optuna/storages/_rdb/models.py`, alembic head `v3.2.0.a`), as
//! SQLAlchemy creates it on SQLite and on PostgreSQL, and its version stamps.

use super::DbError;
use super::sql::{Conn, Dialect, Val};

/// The alembic revision of Optuna 5.0's schema (`optuna/storages/_rdb/alembic/versions/
/// v3.2.0.a_.py`).
pub const ALEMBIC_HEAD: &str = "v3.2.0.a";
/// `models.SCHEMA_VERSION` of Optuna 5.0 (frozen since alembic took over).
pub const SCHEMA_VERSION: i64 = 12;
/// The library version written into `version_info`: the Optuna release whose schema this is.
pub const LIBRARY_VERSION: &str = "5.0.0";

/// The alembic revisions of Optuna's earlier schemas, oldest first: a database stamped with
/// one of them needs `optuna storage upgrade`.
const OLDER_REVISIONS: &[&str] = &[
    "v0.9.0.a", "v1.2.0.a", "v1.3.0.a", "v2.4.0.a", "v2.6.0.a", "v3.0.0.a", "v3.0.0.b", "v3.0.0.c",
    "v3.0.0.d",
];

const TABLES_SQLITE: &str = r#"
CREATE TABLE studies (
	study_id INTEGER NOT NULL,
	study_name VARCHAR(512) NOT NULL,
	PRIMARY KEY (study_id)
);
CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name);
CREATE TABLE version_info (
	version_info_id INTEGER NOT NULL,
	schema_version INTEGER,
	library_version VARCHAR(256),
	PRIMARY KEY (version_info_id),
	CHECK (version_info_id=1)
);
CREATE TABLE study_directions (
	study_direction_id INTEGER NOT NULL,
	direction VARCHAR(8) NOT NULL,
	study_id INTEGER NOT NULL,
	objective INTEGER NOT NULL,
	PRIMARY KEY (study_direction_id),
	UNIQUE (study_id, objective),
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE study_user_attributes (
	study_user_attribute_id INTEGER NOT NULL,
	study_id INTEGER,
	"key" VARCHAR(512),
	value_json TEXT,
	PRIMARY KEY (study_user_attribute_id),
	UNIQUE (study_id, "key"),
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE study_system_attributes (
	study_system_attribute_id INTEGER NOT NULL,
	study_id INTEGER,
	"key" VARCHAR(512),
	value_json TEXT,
	PRIMARY KEY (study_system_attribute_id),
	UNIQUE (study_id, "key"),
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE TABLE trials (
	trial_id INTEGER NOT NULL,
	number INTEGER,
	study_id INTEGER,
	state VARCHAR(8) NOT NULL,
	datetime_start DATETIME,
	datetime_complete DATETIME,
	PRIMARY KEY (trial_id),
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
);
CREATE INDEX ix_trials_study_id ON trials (study_id);
CREATE TABLE trial_user_attributes (
	trial_user_attribute_id INTEGER NOT NULL,
	trial_id INTEGER,
	"key" VARCHAR(512),
	value_json TEXT,
	PRIMARY KEY (trial_user_attribute_id),
	UNIQUE (trial_id, "key"),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_system_attributes (
	trial_system_attribute_id INTEGER NOT NULL,
	trial_id INTEGER,
	"key" VARCHAR(512),
	value_json TEXT,
	PRIMARY KEY (trial_system_attribute_id),
	UNIQUE (trial_id, "key"),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_params (
	param_id INTEGER NOT NULL,
	trial_id INTEGER,
	param_name VARCHAR(512),
	param_value FLOAT,
	distribution_json TEXT,
	PRIMARY KEY (param_id),
	UNIQUE (trial_id, param_name),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_values (
	trial_value_id INTEGER NOT NULL,
	trial_id INTEGER NOT NULL,
	objective INTEGER NOT NULL,
	value FLOAT,
	value_type VARCHAR(7) NOT NULL,
	PRIMARY KEY (trial_value_id),
	UNIQUE (trial_id, objective),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_intermediate_values (
	trial_intermediate_value_id INTEGER NOT NULL,
	trial_id INTEGER NOT NULL,
	step INTEGER NOT NULL,
	intermediate_value FLOAT,
	intermediate_value_type VARCHAR(7) NOT NULL,
	PRIMARY KEY (trial_intermediate_value_id),
	UNIQUE (trial_id, step),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE trial_heartbeats (
	trial_heartbeat_id INTEGER NOT NULL,
	trial_id INTEGER NOT NULL,
	heartbeat DATETIME NOT NULL,
	PRIMARY KEY (trial_heartbeat_id),
	UNIQUE (trial_id),
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
);
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
"#;

const TABLES_POSTGRES: &str = r#"
CREATE TYPE studydirection AS ENUM ('NOT_SET', 'MINIMIZE', 'MAXIMIZE');
CREATE TYPE trialintermediatevaluetype AS ENUM ('FINITE', 'INF_POS', 'INF_NEG', 'NAN');
CREATE TYPE trialstate AS ENUM ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING');
CREATE TYPE trialvaluetype AS ENUM ('FINITE', 'INF_POS', 'INF_NEG');
CREATE TABLE alembic_version (
    version_num character varying(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE studies (
    study_id SERIAL NOT NULL,
    study_name character varying(512) NOT NULL,
    PRIMARY KEY (study_id)
);
CREATE UNIQUE INDEX ix_studies_study_name ON studies USING btree (study_name);
CREATE TABLE version_info (
    version_info_id integer NOT NULL,
    schema_version integer,
    library_version character varying(256),
    PRIMARY KEY (version_info_id),
    CONSTRAINT version_info_version_info_id_check CHECK ((version_info_id = 1))
);
CREATE TABLE study_directions (
    study_direction_id SERIAL NOT NULL,
    direction studydirection NOT NULL,
    study_id integer NOT NULL REFERENCES studies(study_id),
    objective integer NOT NULL,
    PRIMARY KEY (study_direction_id),
    UNIQUE (study_id, objective)
);
CREATE TABLE study_system_attributes (
    study_system_attribute_id SERIAL NOT NULL,
    study_id integer REFERENCES studies(study_id),
    key character varying(512),
    value_json text,
    PRIMARY KEY (study_system_attribute_id),
    UNIQUE (study_id, key)
);
CREATE TABLE study_user_attributes (
    study_user_attribute_id SERIAL NOT NULL,
    study_id integer REFERENCES studies(study_id),
    key character varying(512),
    value_json text,
    PRIMARY KEY (study_user_attribute_id),
    UNIQUE (study_id, key)
);
CREATE TABLE trials (
    trial_id SERIAL NOT NULL,
    number integer,
    study_id integer REFERENCES studies(study_id),
    state trialstate NOT NULL,
    datetime_start timestamp without time zone,
    datetime_complete timestamp without time zone,
    PRIMARY KEY (trial_id)
);
CREATE INDEX ix_trials_study_id ON trials USING btree (study_id);
CREATE TABLE trial_heartbeats (
    trial_heartbeat_id SERIAL NOT NULL,
    trial_id integer NOT NULL REFERENCES trials(trial_id),
    heartbeat timestamp without time zone NOT NULL,
    PRIMARY KEY (trial_heartbeat_id),
    UNIQUE (trial_id)
);
CREATE TABLE trial_intermediate_values (
    trial_intermediate_value_id SERIAL NOT NULL,
    trial_id integer NOT NULL REFERENCES trials(trial_id),
    step integer NOT NULL,
    intermediate_value double precision,
    intermediate_value_type trialintermediatevaluetype NOT NULL,
    PRIMARY KEY (trial_intermediate_value_id),
    UNIQUE (trial_id, step)
);
CREATE TABLE trial_params (
    param_id SERIAL NOT NULL,
    trial_id integer REFERENCES trials(trial_id),
    param_name character varying(512),
    param_value double precision,
    distribution_json text,
    PRIMARY KEY (param_id),
    UNIQUE (trial_id, param_name)
);
CREATE TABLE trial_system_attributes (
    trial_system_attribute_id SERIAL NOT NULL,
    trial_id integer REFERENCES trials(trial_id),
    key character varying(512),
    value_json text,
    PRIMARY KEY (trial_system_attribute_id),
    UNIQUE (trial_id, key)
);
CREATE TABLE trial_user_attributes (
    trial_user_attribute_id SERIAL NOT NULL,
    trial_id integer REFERENCES trials(trial_id),
    key character varying(512),
    value_json text,
    PRIMARY KEY (trial_user_attribute_id),
    UNIQUE (trial_id, key)
);
CREATE TABLE trial_values (
    trial_value_id SERIAL NOT NULL,
    trial_id integer NOT NULL REFERENCES trials(trial_id),
    objective integer NOT NULL,
    value double precision,
    value_type trialvaluetype NOT NULL,
    PRIMARY KEY (trial_value_id),
    UNIQUE (trial_id, objective)
);
"#;

fn tables_exist(conn: &mut Conn) -> Result<bool, DbError> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'studies'"
        }
        Dialect::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'studies'"
        }
    };
    Ok(conn.query_one(sql, &[])?.and_then(|v| v.int()).unwrap_or(0) > 0)
}

/// Creates Optuna 5.0's tables and stamps them (`version_info` and `alembic_version`) when
/// the database has none; otherwise checks that its schema is Optuna 5.0's. Runs in its
/// own transaction (on PostgreSQL under an advisory lock, so that workers starting together
/// create the schema once).
pub fn ensure(conn: &mut Conn) -> Result<(), DbError> {
    match conn.dialect() {
        Dialect::Sqlite => conn.batch("BEGIN IMMEDIATE")?,
        Dialect::Postgres => {
            conn.begin()?;
            conn.query("SELECT pg_advisory_xact_lock(7410305712)", &[])?;
        }
    }
    let r = ensure_in_transaction(conn);
    match r {
        Ok(()) => conn.commit(),
        Err(e) => {
            let _ = conn.rollback();
            Err(e)
        }
    }
}

fn ensure_in_transaction(conn: &mut Conn) -> Result<(), DbError> {
    if !tables_exist(conn)? {
        let ddl = match conn.dialect() {
            Dialect::Sqlite => TABLES_SQLITE,
            Dialect::Postgres => TABLES_POSTGRES,
        };
        conn.batch(ddl)?;
        conn.execute(
            "INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, $1, $2)",
            &[Val::Int(SCHEMA_VERSION), LIBRARY_VERSION.into()],
        )?;
        conn.execute(
            "INSERT INTO alembic_version (version_num) VALUES ($1)",
            &[ALEMBIC_HEAD.into()],
        )?;
        return Ok(());
    }
    check(conn)
}

/// Checks an existing database's stamps against Optuna 5.0's.
fn check(conn: &mut Conn) -> Result<(), DbError> {
    let revision = conn
        .query_one("SELECT version_num FROM alembic_version", &[])
        .ok()
        .flatten()
        .and_then(|v| v.text().map(str::to_string))
        .filter(|r| !r.is_empty());
    let library = conn
        .query_one("SELECT library_version FROM version_info", &[])
        .ok()
        .flatten()
        .and_then(|v| v.text().map(str::to_string))
        .unwrap_or_else(|| "an unknown version".into());
    let schema = conn
        .query_one("SELECT schema_version FROM version_info", &[])
        .ok()
        .flatten()
        .and_then(|v| v.int());
    match revision.as_deref() {
        Some(ALEMBIC_HEAD) => Ok(()),
        // rustuna creates Optuna's tables with `version_info` but leaves `alembic_version`
        // empty; Optuna stamps such a database with its head revision when it opens it.
        None if schema == Some(SCHEMA_VERSION) => Ok(()),
        Some(r) if OLDER_REVISIONS.contains(&r) => Err(DbError::Schema(format!(
            "the database's schema is Optuna's revision {r} (set up by optuna {library}), older than Optuna 5.0's {ALEMBIC_HEAD}; upgrade it with `optuna storage upgrade --storage URL`"
        ))),
        Some(r) => Err(DbError::Schema(format!(
            "the database's schema revision {r} (set up by optuna {library}) is newer than the one sweeplab knows ({ALEMBIC_HEAD}, Optuna 5.0); use a sweeplab that knows it"
        ))),
        None => Err(DbError::Schema(
            "the database has a `studies` table but no alembic revision: it was not created by Optuna".into(),
        )),
    }
}
