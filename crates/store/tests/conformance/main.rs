//! One conformance suite for every `Store` engine: each check in `checks`
//! runs against SQLite always and against PostgreSQL when `FARGUARD_TEST_PG`
//! is set (see `engines` for the skip and CI rules).

// Test helpers outside #[test] fns are not covered by allow-unwrap-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod checks;
mod engines;
mod feeds;
mod fixtures;
mod incidents;
mod notify;
mod risk;
mod stamps;
mod units;

/// Declares one `#[test]` per check per engine: `sqlite::check_x`, `postgres::check_x`.
macro_rules! conformance {
    (store: [$($store:ident),* $(,)?], engine: [$($engine:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $(#[test] fn $store() { crate::engines::sqlite(crate::checks::$store); })*
            $(#[test] fn $engine() { crate::engines::sqlite_engine(crate::checks::$engine); })*
        }
        mod postgres {
            $(#[test] fn $store() { crate::engines::postgres(crate::checks::$store); })*
            $(#[test] fn $engine() { crate::engines::postgres_engine(crate::checks::$engine); })*
        }
    };
}

conformance! {
    store: [
        check_event_round_trip,
        check_reinsert_is_all_duplicates,
        check_mixed_batch_counts,
        check_bulk_batch_spans_chunks,
        check_events_between_is_half_open,
        check_event_time_range,
        check_times_keep_microseconds,
        check_quarantine_dedups_reruns,
        check_sites_round_trip_points_and_polygons,
        check_upserts_tell_inserted_updated_unchanged,
        check_people_legs_dependencies_round_trip,
        check_assessments_replace_and_latest,
        check_runs_newest_first,
        check_failed_batch_stores_nothing,
        check_users_and_tokens_round_trip,
        check_audit_chain_appends_and_verifies,
        check_incident_round_trip,
        check_incident_resave_updates_and_timeline_is_append_only,
        check_incident_with_nul_is_refused_and_nothing_is_stored,
        check_merges_are_idempotent_and_move_with_their_cluster,
        check_quarantine_rows_by_id,
        check_risk_fold_counts_each_stored_event_once,
        check_risk_fold_refuses_unreadable_rows_and_stores_nothing,
        check_risk_fold_of_events_just_stored_counts_each_once,
    ],
    engine: [
        check_feed_state_survives_reopen,
        check_migrations_are_idempotent,
        check_corrupt_rows_are_errors_not_panics,
        check_audit_verify_catches_tampering,
        check_audit_verify_catches_a_cut_off_tail,
    ],
}
