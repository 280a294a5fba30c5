//! Who is calling and what they may do: roles, TLP 2.0 markings, the one
//! permission table, passwords (argon2) and tokens (random 256-bit secrets,
//! stored as SHA-256).
//!
//! Two questions are asked for every request. *May this role use this
//! route at all?* — [`allows`], one table of [`Action`] × [`Role`]. *May
//! this principal see this record?* — [`Principal::may_see`], from the
//! record's TLP marking, its owning organisation, the countries it lies in
//! and (for people) whose record it is. Lists are filtered with the second
//! question, so a caller never learns that another organisation's record
//! exists; a single record they may not see answers 404, not 403.

use crate::error::ApiError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use farguard_model::CountryCode;
use farguard_store::UserRow;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use utoipa::ToSchema;

/// What a user is in the protection system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Coordination centre: sees and commands everything.
    Coordinator,
    /// Embassy or consulate: its own country.
    Embassy,
    /// Provincial foreign-affairs office: the country it answers for.
    ProvincialOffice,
    /// Enterprise abroad, administrator: its own people and sites, may write them.
    EnterpriseAdmin,
    /// Enterprise abroad, member: reads its own people and sites.
    EnterpriseMember,
    /// Security firm, insurer, evacuation…: its own listing and public risk.
    ServiceProvider,
    /// A citizen or employee abroad: only their own record.
    Citizen,
    /// Read-only partner or auditor: public (CLEAR, GREEN) information only.
    Observer,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Coordinator,
        Role::Embassy,
        Role::ProvincialOffice,
        Role::EnterpriseAdmin,
        Role::EnterpriseMember,
        Role::ServiceProvider,
        Role::Citizen,
        Role::Observer,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Coordinator => "coordinator",
            Role::Embassy => "embassy",
            Role::ProvincialOffice => "provincial_office",
            Role::EnterpriseAdmin => "enterprise_admin",
            Role::EnterpriseMember => "enterprise_member",
            Role::ServiceProvider => "service_provider",
            Role::Citizen => "citizen",
            Role::Observer => "observer",
        }
    }

    /// Accepts `enterprise-admin`, `Enterprise Admin`, `enterprise_admin`.
    pub fn parse(s: &str) -> Option<Role> {
        let t = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Role::ALL.into_iter().find(|r| r.code() == t)
    }

    fn is_enterprise(self) -> bool {
        matches!(self, Role::EnterpriseAdmin | Role::EnterpriseMember)
    }

    fn is_government(self) -> bool {
        matches!(self, Role::Embassy | Role::ProvincialOffice)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A TLP 2.0 sharing marking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
pub enum Marking {
    #[serde(rename = "TLP:CLEAR")]
    Clear,
    #[serde(rename = "TLP:GREEN")]
    Green,
    #[serde(rename = "TLP:AMBER")]
    Amber,
    #[serde(rename = "TLP:AMBER+STRICT")]
    AmberStrict,
    #[serde(rename = "TLP:RED")]
    Red,
}

impl Marking {
    pub fn code(self) -> &'static str {
        match self {
            Marking::Clear => "TLP:CLEAR",
            Marking::Green => "TLP:GREEN",
            Marking::Amber => "TLP:AMBER",
            Marking::AmberStrict => "TLP:AMBER+STRICT",
            Marking::Red => "TLP:RED",
        }
    }
}

/// The markings farguard gives each kind of record. Events come from public
/// feeds; levels are shared with the whole community; a site is shared with
/// its organisation and those who protect its country; a person's record
/// likewise, and with the person; the quarantine (raw feed bytes), users and
/// the audit log stay with the coordination centre.
pub mod markings {
    use super::Marking;
    pub const EVENT: Marking = Marking::Clear;
    pub const ASSESSMENT: Marking = Marking::Green;
    pub const ORGANISATION: Marking = Marking::Green;
    pub const SITE: Marking = Marking::Amber;
    pub const PERSON: Marking = Marking::Amber;
    pub const QUARANTINE: Marking = Marking::Red;
    pub const AUDIT: Marking = Marking::Red;
}

/// A route-level permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadSelf,
    CreateToken,
    ReadEvents,
    ReadAssessments,
    ReadMap,
    ReadExposure,
    ReadOrgs,
    ReadSites,
    WriteSites,
    ReadPeople,
    ReadQuarantine,
    ReadUsers,
    WriteUsers,
    ReadAudit,
    ReadIncidents,
    ReadPlans,
    ReadAlerts,
}

/// The permission table: which roles may use which actions. Data scoping
/// (organisation, country, own record) is applied on top by `may_see`.
pub fn allows(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        ReadSelf | CreateToken | ReadEvents | ReadAssessments | ReadMap => true,
        // A citizen may ask too, and sees at most themself among the people.
        ReadExposure => matches!(
            role,
            Coordinator | Embassy | ProvincialOffice | EnterpriseAdmin | EnterpriseMember | Citizen
        ),
        ReadOrgs => !matches!(role, Citizen),
        ReadSites => matches!(
            role,
            Coordinator
                | Embassy
                | ProvincialOffice
                | EnterpriseAdmin
                | EnterpriseMember
                | ServiceProvider
        ),
        WriteSites => matches!(role, Coordinator | EnterpriseAdmin),
        ReadPeople => matches!(
            role,
            Coordinator | Embassy | ProvincialOffice | EnterpriseAdmin | EnterpriseMember | Citizen
        ),
        ReadQuarantine | ReadAudit => matches!(role, Coordinator),
        ReadIncidents | ReadAlerts => !matches!(role, Citizen | Observer),
        ReadPlans => !matches!(role, Citizen),
        ReadUsers | WriteUsers => matches!(role, Coordinator | EnterpriseAdmin),
    }
}

/// The authenticated caller. `Debug` shows no secret (there is none here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub org: Option<String>,
    pub country: Option<CountryCode>,
    pub person: Option<String>,
}

/// What a record says about who may see it.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub marking: Marking,
    /// The organisation that owns the record.
    pub org: Option<&'a str>,
    /// The countries the record lies in (a site's country, a person's legs).
    pub countries: &'a [CountryCode],
    /// For a person record: its id.
    pub person: Option<&'a str>,
}

impl Principal {
    pub fn from_user(u: &UserRow) -> Result<Self, ApiError> {
        let role = Role::parse(&u.role).ok_or_else(|| {
            ApiError::internal(
                format!("user {} has an unknown role", u.id),
                farguard_store::StoreError::Corrupt {
                    table: "users",
                    field: "role",
                    reason: format!("{:?} is not a role", u.role),
                },
            )
        })?;
        let country = u
            .country
            .as_deref()
            .map(CountryCode::parse)
            .transpose()
            .map_err(|e| ApiError::internal(format!("user {} has a bad country", u.id), e))?;
        Ok(Principal {
            user_id: u.id.clone(),
            name: u.name.clone(),
            role,
            org: u.org.clone(),
            country,
            person: u.person.clone(),
        })
    }

    /// 403 unless the role may use the action.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if allows(self.role, action) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "role {} may not {action:?}",
                self.role
            )))
        }
    }

    fn same_org(&self, org: Option<&str>) -> bool {
        matches!((self.org.as_deref(), org), (Some(a), Some(b)) if a == b)
    }

    fn own_record(&self, person: Option<&str>) -> bool {
        matches!((self.person.as_deref(), person), (Some(a), Some(b)) if a == b)
    }

    fn answers_for(&self, countries: &[CountryCode]) -> bool {
        self.role.is_government() && self.country.is_some_and(|c| countries.contains(&c))
    }

    /// Whether this caller may see a record with this scope.
    pub fn may_see(&self, s: Scope<'_>) -> bool {
        if self.role == Role::Coordinator {
            return true;
        }
        // A citizen sees public information and their own record, nothing else.
        if self.role == Role::Citizen {
            return s.marking <= Marking::Green || self.own_record(s.person);
        }
        match s.marking {
            Marking::Clear | Marking::Green => true,
            Marking::Amber => {
                self.role != Role::Observer
                    && (self.same_org(s.org) || self.answers_for(s.countries))
            }
            Marking::AmberStrict => self.role != Role::Observer && self.same_org(s.org),
            Marking::Red => false,
        }
    }

    /// Users an enterprise admin may create: members and admins of their own org.
    pub fn may_create_user(&self, role: Role, org: Option<&str>) -> bool {
        match self.role {
            Role::Coordinator => true,
            Role::EnterpriseAdmin => role.is_enterprise() && self.same_org(org),
            _ => false,
        }
    }

    /// The audit actor string.
    pub fn actor(&self) -> String {
        format!("user:{}", self.user_id)
    }
}

/// A freshly minted secret: shown once, then only its hash is kept.
pub struct Secret(String);

impl Secret {
    /// `fg_` and 64 hex digits: 256 random bits from the OS.
    pub fn generate() -> Result<Secret, ApiError> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| {
            ApiError::internal("the operating system's random source failed", RandError(e))
        })?;
        Ok(Secret(format!("fg_{}", hex(&b))))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn hash(&self) -> String {
        token_hash(&self.0)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug)]
struct RandError(getrandom::Error);
impl fmt::Display for RandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl std::error::Error for RandError {}

/// The stored form of a token: lower-case hex SHA-256.
pub fn token_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether a presented token even looks like one of ours (cheap pre-check).
pub fn looks_like_token(s: &str) -> bool {
    s.len() == 67 && s.starts_with("fg_") && s[3..].bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(D[usize::from(b >> 4)]));
        s.push(char::from(D[usize::from(b & 15)]));
    }
    s
}

/// argon2id PHC string of a password, with a fresh 16-byte salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| {
        ApiError::internal("the operating system's random source failed", RandError(e))
    })?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| ApiError::internal("encoding a salt", PwError(e)))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal("hashing a password", PwError(e)))
}

/// Whether `password` matches the stored PHC string (false on a malformed hash).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[derive(Debug)]
struct PwError(argon2::password_hash::Error);
impl fmt::Display for PwError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl std::error::Error for PwError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(role: Role, org: Option<&str>, country: Option<&str>, person: Option<&str>) -> Principal {
        Principal {
            user_id: "u".into(),
            name: "n".into(),
            role,
            org: org.map(Into::into),
            country: country.map(|c| CountryCode::parse(c).unwrap()),
            person: person.map(Into::into),
        }
    }

    #[test]
    fn roles_parse_from_their_codes_and_spellings() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.code()), Some(r));
        }
        assert_eq!(Role::parse("Enterprise Admin"), Some(Role::EnterpriseAdmin));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn amber_follows_org_and_country_strict_only_org_red_nobody() {
        let ke = [CountryCode::parse("KE").unwrap()];
        let site = |m| Scope {
            marking: m,
            org: Some("acme"),
            countries: &ke,
            person: None,
        };
        let own = p(Role::EnterpriseMember, Some("acme"), None, None);
        let other = p(Role::EnterpriseAdmin, Some("globex"), None, None);
        let embassy_ke = p(Role::Embassy, Some("emb-ke"), Some("KE"), None);
        let embassy_tz = p(Role::Embassy, Some("emb-tz"), Some("TZ"), None);
        let observer = p(Role::Observer, Some("acme"), None, None);
        assert!(own.may_see(site(Marking::Amber)));
        assert!(!other.may_see(site(Marking::Amber)));
        assert!(embassy_ke.may_see(site(Marking::Amber)));
        assert!(!embassy_tz.may_see(site(Marking::Amber)));
        assert!(!observer.may_see(site(Marking::Amber)));
        assert!(own.may_see(site(Marking::AmberStrict)));
        assert!(!embassy_ke.may_see(site(Marking::AmberStrict)));
        assert!(!own.may_see(site(Marking::Red)));
        assert!(observer.may_see(site(Marking::Green)));
    }

    #[test]
    fn a_citizen_sees_only_their_own_record() {
        let c = p(Role::Citizen, Some("acme"), None, Some("P-1"));
        let rec = |id| Scope {
            marking: Marking::Amber,
            org: Some("acme"),
            countries: &[],
            person: Some(id),
        };
        assert!(c.may_see(rec("P-1")));
        assert!(
            !c.may_see(rec("P-2")),
            "same org is not enough for a citizen"
        );
    }

    #[test]
    fn passwords_verify_and_tokens_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
        let s = Secret::generate().unwrap();
        assert!(looks_like_token(s.expose()));
        assert_eq!(s.hash(), token_hash(s.expose()));
        assert_ne!(Secret::generate().unwrap().expose(), s.expose());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }
}
