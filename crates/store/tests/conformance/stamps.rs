//! Change stamps (`StampStore`) on every engine: a change to the registry,
//! the levels or the incidents — made through any connection — moves that
//! stamp and only that one; a rolled-back change moves nothing.

use crate::engines::Engine;
use crate::fixtures::{self, t};
use farguard_model::Category;
use farguard_store::{ChangeStamps, StoreError, atomically};

/// One `#[test]` per engine per check.
macro_rules! stamp_checks {
    ($($check:ident),* $(,)?) => {
        $(mod $check {
            #[test] fn sqlite() { crate::engines::sqlite_engine(super::$check); }
            #[test] fn postgres() { crate::engines::postgres_engine(super::$check); }
        })*
    };
}

stamp_checks!(
    stamps_move_with_their_data_seen_from_another_connection,
    a_rolled_back_change_moves_no_stamp,
);

pub fn stamps_move_with_their_data_seen_from_another_connection(e: &dyn Engine) {
    let mut reader = e.open();
    let mut writer = e.open();
    let s0 = reader.change_stamps().unwrap();
    writer.upsert_sites(&fixtures::sites()).unwrap();
    let s1 = reader.change_stamps().unwrap();
    assert!(s1.registry > s0.registry, "{s0:?} → {s1:?}");
    assert_eq!(
        (s1.assessments, s1.incidents),
        (s0.assessments, s0.incidents)
    );
    writer.upsert_people(&fixtures::people()).unwrap();
    writer.upsert_legs(&fixtures::legs()).unwrap();
    writer.upsert_orgs(&fixtures::orgs()).unwrap();
    let s2 = reader.change_stamps().unwrap();
    assert!(s2.registry > s1.registry);
    let at = t(2019, 10, 24, 0, 0, 0);
    writer
        .save_assessments(&[fixtures::assessment("KE", Category::Security, at, 3.0)])
        .unwrap();
    let s3 = reader.change_stamps().unwrap();
    assert!(s3.assessments > s2.assessments);
    assert_eq!((s3.registry, s3.incidents), (s2.registry, s2.incidents));
    writer
        .save_incident(&crate::incidents::incident(false))
        .unwrap();
    let s4 = reader.change_stamps().unwrap();
    assert!(s4.incidents > s3.incidents);
    assert_eq!((s4.registry, s4.assessments), (s3.registry, s3.assessments));
    // Raw SQL behind the store's back is seen too.
    e.exec("DELETE FROM sites");
    assert!(reader.change_stamps().unwrap().registry > s4.registry);
}

pub fn a_rolled_back_change_moves_no_stamp(e: &dyn Engine) {
    let mut store = e.open();
    let before: ChangeStamps = store.change_stamps().unwrap();
    let r = atomically(store.as_mut(), |s| {
        s.upsert_sites(&fixtures::sites())?;
        Err::<(), _>(StoreError::Unstorable {
            table: "(test)",
            field: "-",
            reason: "roll back on purpose".into(),
        })
    });
    assert!(r.is_err());
    assert_eq!(store.change_stamps().unwrap(), before);
}
