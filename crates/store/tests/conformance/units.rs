//! Units of work (`UnitStore`) on every engine: a write and its audit entry
//! commit together or not at all — also when the database itself refuses
//! the audit insert — a savepoint undoes only its own part, and every kind
//! of write the API makes (registry, quarantine, users and tokens, check-in
//! answers, incidents, the audit chain) joins a unit instead of committing
//! on its own.

use crate::engines::Engine;
use crate::fixtures::{self, t};
use chrono::{DateTime, Utc};
use farguard_model::{
    AlertRecord, CapStatus, CheckinState, CheckinStatus, CheckinToken, Level, MsgType,
};
use farguard_store::{
    AuditRecord, Store, StoreError, TokenRow, UserRow, atomically, in_savepoint, snapshot,
    verify_audit,
};

/// One `#[test]` per engine per check.
macro_rules! unit_checks {
    (store: [$($check:ident),* $(,)?], engine: [$($engine:ident),* $(,)?] $(,)?) => {
        $(mod $check {
            #[test] fn sqlite() { crate::engines::sqlite(super::$check); }
            #[test] fn postgres() { crate::engines::postgres(super::$check); }
        })*
        $(mod $engine {
            #[test] fn sqlite() { crate::engines::sqlite_engine(super::$engine); }
            #[test] fn postgres() { crate::engines::postgres_engine(super::$engine); }
        })*
    };
}

unit_checks!(
    store: [
        unit_commits_write_and_audit_together,
        unit_with_a_refused_audit_record_keeps_nothing,
        savepoint_undoes_only_its_part,
        every_api_write_joins_a_unit,
    ],
    engine: [
        unit_keeps_nothing_when_the_database_refuses_the_audit_insert,
        units_do_not_nest_and_a_closed_unit_leaves_the_connection_usable,
        a_snapshot_reads_while_a_unit_holds_the_write_lock_and_keeps_no_write,
    ],
);

fn audit(target: &str) -> AuditRecord {
    AuditRecord {
        at: t(2026, 11, 28, 10, 0, 0),
        actor: "user:u1".into(),
        action: "site.upsert".into(),
        target: target.into(),
        before: None,
        after: Some("{}".into()),
    }
}

fn site_ids(store: &mut dyn Store) -> Vec<String> {
    store.sites().unwrap().into_iter().map(|s| s.id).collect()
}

pub fn unit_commits_write_and_audit_together(store: &mut dyn Store) {
    let sites = fixtures::sites();
    let n = atomically(store, |s| {
        let c = s.upsert_sites(&sites[..1])?;
        s.append_audit(&audit(&format!("site:{}", sites[0].id)))?;
        Ok::<_, StoreError>(c.inserted)
    })
    .unwrap();
    assert_eq!(n, 1);
    assert_eq!(site_ids(store), [sites[0].id.clone()]);
    let v = verify_audit(store, None).unwrap();
    assert_eq!((v.entries, v.problems.len()), (1, 0));
    // After the unit the connection is back to one transaction per call.
    store.upsert_sites(&sites[1..2]).unwrap();
    assert_eq!(site_ids(store).len(), 2);
}

pub fn unit_with_a_refused_audit_record_keeps_nothing(store: &mut dyn Store) {
    let sites = fixtures::sites();
    let mut bad = audit("site:x");
    bad.actor = "user:\0".into();
    let r = atomically(store, |s| {
        s.upsert_sites(&sites[..1])?;
        s.append_audit(&bad)?;
        Ok::<_, StoreError>(())
    });
    assert!(
        matches!(r, Err(StoreError::Unstorable { .. })),
        "the audit record is refused: {r:?}"
    );
    assert!(site_ids(store).is_empty(), "the write was rolled back");
    assert_eq!(verify_audit(store, None).unwrap().entries, 0);
}

pub fn savepoint_undoes_only_its_part(store: &mut dyn Store) {
    let sites = fixtures::sites();
    atomically(store, |s| {
        in_savepoint(s, |s| {
            s.upsert_sites(&sites[..1])?;
            s.append_audit(&audit("site:first"))?;
            Ok::<_, StoreError>(())
        })?;
        let failed = in_savepoint(s, |s| {
            s.upsert_sites(&sites[1..2])?;
            s.append_audit(&audit("site:second"))?;
            // A statement the database refuses, after both writes.
            s.record_checkin(&CheckinState {
                scope: "incident:none".into(),
                recipient: "nobody".into(),
                name: "nobody".into(),
                status: CheckinStatus::Safe,
                message: None,
                location: None,
                answered_at: Some(t(2026, 11, 28, 10, 0, 0)),
                reached_at: None,
            })?;
            Ok::<_, StoreError>(())
        });
        assert!(failed.is_err(), "an answer nobody was asked for is refused");
        in_savepoint(s, |s| {
            s.upsert_sites(&sites[2..3])?;
            s.append_audit(&audit("site:third"))?;
            Ok::<_, StoreError>(())
        })
    })
    .unwrap();
    let mut ids = site_ids(store);
    ids.sort();
    let mut want = vec![sites[0].id.clone(), sites[2].id.clone()];
    want.sort();
    assert_eq!(ids, want, "only the failed savepoint's site is gone");
    let v = verify_audit(store, None).unwrap();
    assert_eq!(
        (v.entries, v.problems.len()),
        (2, 0),
        "two entries, chained without a gap: {:?}",
        v.problems
    );
    let targets: Vec<String> = store
        .audit_entries(0, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.record.target)
        .collect();
    assert_eq!(targets, ["site:first", "site:third"]);
}

fn alert(at: DateTime<Utc>) -> AlertRecord {
    AlertRecord {
        id: "fg.incident-KE-1.alert.1".into(),
        scope: "incident:KE-1".into(),
        incident: Some("KE-1".into()),
        event: None,
        sent: at,
        status: CapStatus::Exercise,
        msg_type: MsgType::Alert,
        level: Level::II,
        category: "security".into(),
        headline: "Armed clashes near Mombasa port".into(),
        recipients: 1,
        cap_xml: "<alert/>".into(),
        reason: "test".into(),
    }
}

fn user() -> UserRow {
    UserRow {
        id: "u1".into(),
        name: "wang.li".into(),
        role: "coordinator".into(),
        org: None,
        country: None,
        person: None,
        password_hash: None,
        created_at: t(2026, 11, 28, 10, 0, 0),
        disabled: false,
    }
}

/// Every write method, inside a unit that is then rolled back: nothing may
/// remain (a method that committed on its own would leave its rows).
pub fn every_api_write_joins_a_unit(store: &mut dyn Store) {
    let at = t(2019, 10, 24, 14, 30, 0);
    let r = atomically(store, |s| {
        s.upsert_orgs(&fixtures::orgs())?;
        s.upsert_sites(&fixtures::sites())?;
        s.upsert_people(&fixtures::people())?;
        s.insert_events(&fixtures::gdelt_events())?;
        s.quarantine(&fixtures::quarantined())?;
        s.create_user(&user())?;
        s.insert_token(&TokenRow {
            hash: "ab".repeat(32),
            user_id: "u1".into(),
            kind: "api".into(),
            label: "t".into(),
            created_at: at,
            expires_at: None,
        })?;
        let state = CheckinState {
            scope: "incident:KE-1".into(),
            recipient: "p1".into(),
            name: "Person 1".into(),
            status: CheckinStatus::NoAnswer,
            message: None,
            location: None,
            answered_at: None,
            reached_at: None,
        };
        s.queue_alert(
            &alert(at),
            &[],
            &[CheckinToken {
                hash: [9; 32],
                scope: "incident:KE-1".into(),
                recipient: "p1".into(),
                kind: "link".into(),
                created_at: at,
                expires_at: at + chrono::TimeDelta::days(3),
            }],
            std::slice::from_ref(&state),
        )?;
        s.record_checkin(&CheckinState {
            status: CheckinStatus::Safe,
            answered_at: Some(at),
            ..state
        })?;
        s.append_audit(&audit("site:all"))?;
        Err::<(), _>(StoreError::Unstorable {
            table: "(test)",
            field: "-",
            reason: "roll back on purpose".into(),
        })
    });
    assert!(r.is_err());
    assert!(store.orgs().unwrap().is_empty(), "orgs");
    assert!(store.sites().unwrap().is_empty(), "sites");
    assert!(store.people().unwrap().is_empty(), "people");
    assert_eq!(store.count_events().unwrap(), 0, "events");
    assert!(store.quarantined(10).unwrap().is_empty(), "quarantine");
    assert!(store.user("u1").unwrap().is_none(), "users");
    assert!(store.token(&"ab".repeat(32)).unwrap().is_none(), "tokens");
    assert!(store.alert("fg.incident-KE-1.alert.1").unwrap().is_none());
    assert!(store.checkin_token(&[9; 32]).unwrap().is_none());
    assert!(store.checkin_states("incident:KE-1").unwrap().is_empty());
    assert_eq!(verify_audit(store, None).unwrap().entries, 0, "audit");
}

/// The database itself refuses audit inserts (a trigger): the write made
/// before the audit entry in the same unit must not survive.
pub fn unit_keeps_nothing_when_the_database_refuses_the_audit_insert(e: &dyn Engine) {
    let mut store = e.open();
    let refuse = if store.backend() == "postgres" {
        "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$; \
         CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit();"
    } else {
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END;"
    };
    e.exec(refuse);
    let sites = fixtures::sites();
    let r = atomically(store.as_mut(), |s| {
        s.upsert_sites(&sites[..2])?;
        s.append_audit(&audit("site:refused"))?;
        Ok::<_, StoreError>(())
    });
    let err = r.expect_err("the audit insert fails");
    assert!(
        format!("{err:?}").contains("audit refused"),
        "the database's refusal is the error: {err:?}"
    );
    drop(store);
    let mut again = e.open();
    assert!(site_ids(again.as_mut()).is_empty(), "no site was kept");
    assert_eq!(verify_audit(again.as_mut(), None).unwrap().entries, 0);
}

pub fn units_do_not_nest_and_a_closed_unit_leaves_the_connection_usable(e: &dyn Engine) {
    let mut store = e.open();
    // (Opened first: opening migrates under the write lock a unit holds.)
    let mut other = e.open();
    store.begin_unit().unwrap();
    assert!(store.begin_unit().is_err(), "a second unit is refused");
    store.upsert_sites(&fixtures::sites()[..1]).unwrap();
    // Another connection does not see the unit's write before it commits.
    assert!(site_ids(other.as_mut()).is_empty());
    store.commit_unit().unwrap();
    assert_eq!(site_ids(other.as_mut()).len(), 1);
    // And the first connection is out of the unit: calls commit on their own.
    store.upsert_sites(&fixtures::sites()[1..2]).unwrap();
    assert_eq!(site_ids(other.as_mut()).len(), 2);
}

/// Readers in a snapshot never queue behind the writer: even the methods
/// whose own transaction would take the write lock (the notify reads) only
/// set a savepoint. A write attempted in a snapshot is never kept.
pub fn a_snapshot_reads_while_a_unit_holds_the_write_lock_and_keeps_no_write(e: &dyn Engine) {
    let mut writer = e.open();
    let mut reader = e.open();
    writer.upsert_sites(&fixtures::sites()[..1]).unwrap();
    writer.begin_unit().unwrap();
    writer.upsert_sites(&fixtures::sites()[1..2]).unwrap();
    let t0 = std::time::Instant::now();
    let (n, tok, states) = snapshot(reader.as_mut(), |s| {
        let n = s.sites()?.len();
        let tok = s.checkin_token(&[7; 32])?;
        let states = s.checkin_states("incident:none")?;
        Ok::<_, StoreError>((n, tok, states))
    })
    .unwrap();
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(2),
        "the snapshot did not wait for the write lock: {:?}",
        t0.elapsed()
    );
    assert_eq!(n, 1, "the snapshot sees the last commit, not the open unit");
    assert!(tok.is_none() && states.is_empty());
    writer.commit_unit().unwrap();
    let r = snapshot(reader.as_mut(), |s| {
        s.upsert_sites(&fixtures::sites()[2..3])?;
        Ok::<_, StoreError>(())
    });
    drop(r); // refused (PostgreSQL) or rolled back (SQLite): either way not kept
    assert_eq!(site_ids(reader.as_mut()).len(), 2);
}
