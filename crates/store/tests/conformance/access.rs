//! Users, tokens and the hash-chained audit log, on every engine: accounts
//! and token hashes round-trip, names are unique, and `verify_audit` catches
//! an altered, a removed and a reordered entry made with raw SQL behind the
//! store's back.

use crate::engines::Engine;
use crate::fixtures::t;
use farguard_store::{AUDIT_GENESIS, AuditRecord, Store, TokenRow, UserRow, verify_audit};

fn user(id: &str, name: &str, role: &str) -> UserRow {
    UserRow {
        id: id.into(),
        name: name.into(),
        role: role.into(),
        org: Some("acme".into()),
        country: Some("KE".into()),
        person: None,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        created_at: t(2026, 11, 28, 10, 0, 0),
        disabled: false,
    }
}

fn record(n: u32) -> AuditRecord {
    AuditRecord {
        at: t(2026, 11, 28, 10, n, 0),
        actor: "user:u1".into(),
        action: "site.upsert".into(),
        target: format!("site:S-{n}"),
        before: (n > 1).then(|| format!("{{\"name\":\"old {n}\"}}")),
        after: Some(format!("{{\"name\":\"new {n}\"}}")),
    }
}

pub fn check_users_and_tokens_round_trip(store: &mut dyn Store) {
    let u = user("u1", "wang.li", "coordinator");
    assert!(store.create_user(&u).unwrap());
    assert!(
        !store
            .create_user(&user("u2", "wang.li", "observer"))
            .unwrap(),
        "a taken name is refused"
    );
    assert!(
        !store.create_user(&user("u1", "other", "observer")).unwrap(),
        "a taken id is refused"
    );
    let mut c = user("u3", "citizen.zhang", "citizen");
    c.person = Some("P-1".into());
    c.password_hash = None;
    c.org = None;
    c.disabled = true;
    assert!(store.create_user(&c).unwrap());
    assert_eq!(store.user("u1").unwrap().unwrap(), u);
    assert_eq!(store.user_by_name("citizen.zhang").unwrap().unwrap(), c);
    assert!(store.user("nobody").unwrap().is_none());
    let names: Vec<String> = store.users().unwrap().into_iter().map(|u| u.name).collect();
    assert_eq!(names, ["citizen.zhang", "wang.li"]);

    let tok = TokenRow {
        hash: "ab".repeat(32),
        user_id: "u1".into(),
        kind: "api".into(),
        label: "bootstrap".into(),
        created_at: t(2026, 11, 28, 11, 0, 0),
        expires_at: Some(t(2026, 12, 28, 11, 0, 0)),
    };
    store.insert_token(&tok).unwrap();
    let (got, owner) = store.token(&tok.hash).unwrap().unwrap();
    assert_eq!(got, tok);
    assert_eq!(owner, u);
    assert!(store.token(&"cd".repeat(32)).unwrap().is_none());
    assert_eq!(store.tokens_of("u1").unwrap(), std::slice::from_ref(&tok));
    assert!(store.delete_token(&tok.hash).unwrap());
    assert!(!store.delete_token(&tok.hash).unwrap());
    assert!(store.token(&tok.hash).unwrap().is_none());
    // Debug never shows the password hash.
    assert!(!format!("{u:?}").contains("argon2"));
}

pub fn check_audit_chain_appends_and_verifies(store: &mut dyn Store) {
    let empty = verify_audit(store, None).unwrap();
    assert_eq!(empty.entries, 0);
    assert_eq!(empty.head, AUDIT_GENESIS);
    let mut prev = AUDIT_GENESIS.to_string();
    for n in 1..=5 {
        let e = store.append_audit(&record(n)).unwrap();
        assert_eq!(e.seq, i64::from(n));
        assert_eq!(e.prev_hash, prev);
        prev = e.hash.clone();
    }
    let v = verify_audit(store, Some(&prev)).unwrap();
    assert_eq!(v.entries, 5);
    assert_eq!(v.head, prev);
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    let recent = store.audit_recent(2).unwrap();
    assert_eq!(
        recent.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [5, 4],
        "newest first"
    );
    let page = store.audit_entries(3, 10).unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
    assert_eq!(page[0].record, record(4));
}

fn chain_of_five(engine: &dyn Engine) -> (Box<dyn Store>, String) {
    let mut store = engine.open();
    let mut head = String::new();
    for n in 1..=5 {
        head = store.append_audit(&record(n)).unwrap().hash;
    }
    assert!(verify_audit(&mut *store, None).unwrap().problems.is_empty());
    (store, head)
}

fn kinds(store: &mut dyn Store, head: Option<&str>) -> Vec<(i64, &'static str)> {
    verify_audit(store, head)
        .unwrap()
        .problems
        .into_iter()
        .map(|p| (p.seq, p.kind))
        .collect()
}

pub fn check_audit_verify_catches_tampering(engine: &dyn Engine) {
    // Altered: an entry's content edited in place.
    let (store, _) = chain_of_five(engine);
    drop(store);
    engine.exec("UPDATE audit_log SET after = '{\"name\":\"forged\"}' WHERE seq = 3");
    let mut store = engine.open();
    assert_eq!(kinds(&mut *store, None), [(3, "altered")]);
    // Put it back: verify is clean again (the check is on content, not time).
    drop(store);
    engine.exec("UPDATE audit_log SET after = '{\"name\":\"new 3\"}' WHERE seq = 3");
    let mut store = engine.open();
    assert!(kinds(&mut *store, None).is_empty());

    // Reordered: two entries swap places (their seq numbers swapped).
    drop(store);
    engine.exec(
        "UPDATE audit_log SET seq = 100 WHERE seq = 2; \
         UPDATE audit_log SET seq = 2 WHERE seq = 4; \
         UPDATE audit_log SET seq = 4 WHERE seq = 100;",
    );
    let mut store = engine.open();
    let k = kinds(&mut *store, None);
    assert!(
        k.contains(&(2, "altered")) && k.contains(&(2, "reordered")),
        "{k:?}"
    );
    assert!(k.contains(&(4, "altered")), "{k:?}");
    drop(store);
    engine.exec(
        "UPDATE audit_log SET seq = 100 WHERE seq = 2; \
         UPDATE audit_log SET seq = 2 WHERE seq = 4; \
         UPDATE audit_log SET seq = 4 WHERE seq = 100;",
    );

    // Removed: a middle entry deleted.
    engine.exec("DELETE FROM audit_log WHERE seq = 2");
    let mut store = engine.open();
    assert_eq!(kinds(&mut *store, None), [(3, "missing"), (3, "reordered")]);

    // Removed and renumbered to hide the gap: the chain still breaks.
    drop(store);
    engine.exec(
        "UPDATE audit_log SET seq = seq - 1 WHERE seq = 3; \
         UPDATE audit_log SET seq = seq - 1 WHERE seq = 4; \
         UPDATE audit_log SET seq = seq - 1 WHERE seq = 5;",
    );
    let mut store = engine.open();
    let k = kinds(&mut *store, None);
    assert!(!k.is_empty(), "renumbering is caught");
    assert!(k.iter().any(|(_, kind)| *kind == "reordered"), "{k:?}");
}

pub fn check_audit_verify_catches_a_cut_off_tail(engine: &dyn Engine) {
    let (store, head) = chain_of_five(engine);
    drop(store);
    engine.exec("DELETE FROM audit_log WHERE seq = 5");
    let mut store = engine.open();
    assert!(
        kinds(&mut *store, None).is_empty(),
        "without an anchor a shorter chain is valid"
    );
    assert_eq!(kinds(&mut *store, Some(&head)), [(4, "truncated")]);
}
