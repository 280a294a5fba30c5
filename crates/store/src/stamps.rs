//! Change stamps: one counter per kind of data (the registry, levels,
//! incidents), bumped by triggers in the same transaction as every change,
//! by whoever makes it — the CLI, a server, a script with SQL. A
//! long-running reader (the HTTP server) polls them, one cheap query, and
//! reloads only what changed.
//!
//! SQLite bumps once per changed row (its triggers are row triggers; an
//! upsert that changes nothing fires nothing); PostgreSQL once per
//! statement. Only the order matters: a stamp that differs from the one
//! last read means "reload". Events have no stamp: the event tables are the
//! ingest hot path, and readers cache event windows for seconds instead.

use crate::{PgStore, Result, SqliteStore};

pub(crate) const SQLITE_SCHEMA: &str = r#"
CREATE TABLE change_stamps (
    name TEXT PRIMARY KEY,
    stamp INTEGER NOT NULL
) STRICT;
INSERT INTO change_stamps (name, stamp) VALUES ('registry', 0), ('assessments', 0), ('incidents', 0);
CREATE TRIGGER orgs_stamp_ins AFTER INSERT ON orgs BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER orgs_stamp_upd AFTER UPDATE ON orgs BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER orgs_stamp_del AFTER DELETE ON orgs BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER sites_stamp_ins AFTER INSERT ON sites BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER sites_stamp_upd AFTER UPDATE ON sites BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER sites_stamp_del AFTER DELETE ON sites BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER people_stamp_ins AFTER INSERT ON people BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER people_stamp_upd AFTER UPDATE ON people BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER people_stamp_del AFTER DELETE ON people BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER legs_stamp_ins AFTER INSERT ON legs BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER legs_stamp_upd AFTER UPDATE ON legs BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER legs_stamp_del AFTER DELETE ON legs BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER dependencies_stamp_ins AFTER INSERT ON dependencies BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER dependencies_stamp_upd AFTER UPDATE ON dependencies BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER dependencies_stamp_del AFTER DELETE ON dependencies BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'registry'; END;
CREATE TRIGGER assessments_stamp_ins AFTER INSERT ON assessments BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'assessments'; END;
CREATE TRIGGER assessments_stamp_upd AFTER UPDATE ON assessments BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'assessments'; END;
CREATE TRIGGER assessments_stamp_del AFTER DELETE ON assessments BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'assessments'; END;
CREATE TRIGGER incidents_stamp_ins AFTER INSERT ON incidents BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incidents_stamp_upd AFTER UPDATE ON incidents BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incidents_stamp_del AFTER DELETE ON incidents BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incident_members_stamp_ins AFTER INSERT ON incident_members BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incident_members_stamp_upd AFTER UPDATE ON incident_members BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incident_members_stamp_del AFTER DELETE ON incident_members BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incident_tasks_stamp_ins AFTER INSERT ON incident_tasks BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incident_tasks_stamp_upd AFTER UPDATE ON incident_tasks BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incident_tasks_stamp_del AFTER DELETE ON incident_tasks BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incident_timeline_stamp_ins AFTER INSERT ON incident_timeline BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incident_timeline_stamp_upd AFTER UPDATE ON incident_timeline BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
CREATE TRIGGER incident_timeline_stamp_del AFTER DELETE ON incident_timeline BEGIN UPDATE change_stamps SET stamp = stamp + 1 WHERE name = 'incidents'; END;
"#;

pub(crate) const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE change_stamps (
    name TEXT PRIMARY KEY,
    stamp BIGINT NOT NULL
);
INSERT INTO change_stamps (name, stamp) VALUES ('registry', 0), ('assessments', 0), ('incidents', 0);
CREATE FUNCTION fg_bump_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_stamps SET stamp = stamp + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END
$$;
CREATE TRIGGER orgs_stamp AFTER INSERT OR UPDATE OR DELETE ON orgs FOR EACH STATEMENT EXECUTE FUNCTION fg_bump_stamp('registry');
CREATE TRIGGER sites_stamp AFTER INSERT OR UPDATE OR DELETE ON sites FOR EACH STATEMENT EXECUTE FUNCTION fg_bump_stamp('registry');
CREATE TRIGGER people_stamp AFTER INSERT OR UPDATE OR DELETE ON people FOR EACH STATEMENT EXECUTE FUNCTION fg_bump_stamp('registry');
CREATE TRIGGER legs_stamp AFTER INSERT OR UPDATE OR DELETE ON legs FOR EACH STATEMENT EXECUTE FUNCTION fg_bump_stamp('registry');
CREATE TRIGGER dependencies_stamp AFTER INSERT OR UPDATE OR DELETE ON dependencies FOR EACH STATEMENT EXECUTE FUNCTION fg_bump_stamp('registry');
CREATE TRIGGER assessments_stamp AFTER INSERT OR UPDATE OR DELETE ON assessments FOR EACH STATEMENT EXECUTE FUNCTION fg_bump_stamp('assessments');
CREATE TRIGGER incidents_stamp AFTER INSERT OR UPDATE OR DELETE ON incidents FOR EACH STATEMENT EXECUTE FUNCTION fg_bump_stamp('incidents');
CREATE TRIGGER incident_members_stamp AFTER INSERT OR UPDATE OR DELETE ON incident_members FOR EACH STATEMENT EXECUTE FUNCTION fg_bump_stamp('incidents');
CREATE TRIGGER incident_tasks_stamp AFTER INSERT OR UPDATE OR DELETE ON incident_tasks FOR EACH STATEMENT EXECUTE FUNCTION fg_bump_stamp('incidents');
CREATE TRIGGER incident_timeline_stamp AFTER INSERT OR UPDATE OR DELETE ON incident_timeline FOR EACH STATEMENT EXECUTE FUNCTION fg_bump_stamp('incidents');
"#;

/// The stamps at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeStamps {
    /// Organisations, sites, people, itinerary legs, dependencies.
    pub registry: i64,
    /// Graded levels.
    pub assessments: i64,
    /// Incidents with their members, tasks and timelines.
    pub incidents: i64,
}

/// Reading the change stamps.
pub trait StampStore {
    fn change_stamps(&mut self) -> Result<ChangeStamps>;
}

const SELECT: &str = "SELECT name, stamp FROM change_stamps";

fn fold(rows: impl IntoIterator<Item = (String, i64)>) -> ChangeStamps {
    let mut s = ChangeStamps::default();
    for (name, v) in rows {
        match name.as_str() {
            "registry" => s.registry = v,
            "assessments" => s.assessments = v,
            "incidents" => s.incidents = v,
            _ => {}
        }
    }
    s
}

impl StampStore for SqliteStore {
    fn change_stamps(&mut self) -> Result<ChangeStamps> {
        let mut stmt = self.conn.prepare_cached(SELECT)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(fold(rows))
    }
}

impl StampStore for PgStore {
    fn change_stamps(&mut self) -> Result<ChangeStamps> {
        let rows = self.client.query(SELECT, &[])?;
        let mut v = Vec::with_capacity(rows.len());
        for r in &rows {
            v.push((r.try_get::<_, String>(0)?, r.try_get::<_, i64>(1)?));
        }
        Ok(fold(v))
    }
}
