//! People abroad from CSV or GeoJSON (properties only), and back.
//!
//! Columns: `id, name` required; `nationality` (ISO 3166-1), `org`, `email`,
//! `phone`, `language` (default `zh`), `needs` (`;`-separated, e.g.
//! `medical;wheelchair`), `consent` (when and how consent was given), `site`
//! (the site the person is posted to) optional.

use crate::rows::{self, FieldError, Fields, Spec, ferr};
use crate::{Import, RegistryError};
use farguard_model::{CountryCode, Geometry, Person};

pub const CSV_HEADER: [&str; 10] = [
    "id",
    "name",
    "nationality",
    "org",
    "email",
    "phone",
    "language",
    "needs",
    "consent",
    "site",
];

fn person_from(f: &Fields<'_>, _g: Option<Geometry>) -> Result<Person, FieldError> {
    let email = f.opt("email");
    if let Some(e) = &email
        && !(e.contains('@') && !e.starts_with('@') && !e.ends_with('@'))
    {
        return Err(ferr("email", format!("{e:?} is not an e-mail address")));
    }
    Ok(Person {
        id: f.req("id")?,
        name: f.req("name")?,
        nationality: f
            .opt("nationality")
            .map(|c| CountryCode::parse(&c).map_err(|e| ferr("nationality", e.to_string())))
            .transpose()?,
        org: f.opt("org"),
        email,
        phone: f.opt("phone"),
        language: f.opt("language").unwrap_or_else(|| "zh".into()),
        needs: f
            .opt("needs")
            .map(|n| {
                n.split(';')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        consent: f.opt("consent"),
        site: f.opt("site"),
    })
}

/// Reads people in either format.
pub fn read(name: &str, bytes: &[u8]) -> Result<Import<Person>, RegistryError> {
    rows::read(
        name,
        bytes,
        &Spec {
            required: &CSV_HEADER[..2],
            what: "person",
            build: &person_from,
            key: &|p: &Person| p.id.clone(),
            key_field: "id",
        },
    )
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

pub fn to_csv(people: &[Person]) -> String {
    rows::write_csv(
        &CSV_HEADER,
        people.iter().map(|p| {
            vec![
                p.id.clone(),
                p.name.clone(),
                p.nationality
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                opt(&p.org),
                opt(&p.email),
                opt(&p.phone),
                p.language.clone(),
                p.needs.join(";"),
                opt(&p.consent),
                opt(&p.site),
            ]
        }),
    )
}

pub fn to_geojson(people: &[Person]) -> String {
    rows::feature_collection(people.iter().map(|p| {
        (
            None,
            serde_json::json!({"id": p.id, "name": p.name,
                "nationality": p.nationality.map(|c| c.as_str().to_string()),
                "org": p.org, "email": p.email, "phone": p.phone, "language": p.language,
                "needs": p.needs, "consent": p.consent, "site": p.site}),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_read_validate_and_round_trip() {
        let text = "id,name,nationality,org,email,phone,language,needs,consent,site\n\
            P1,Li Wei,CN,acme,li@example.org,+254700000001,zh,medical;insulin,2026-01-05 web form,S1\n\
            P2,No Mail,CN,acme,not-an-address,,,,,\n\
            P3,Bad Nat,XX,,,,,,,\n\
            P4,Wang Fang,,,,,en,,,\n";
        let imp = read("people.csv", text.as_bytes()).unwrap();
        let m: Vec<String> = imp.errors.iter().map(|e| e.to_string()).collect();
        assert!(m[0].starts_with("people.csv:3: field `email`"), "{}", m[0]);
        assert!(
            m[1].starts_with("people.csv:4: field `nationality`"),
            "{}",
            m[1]
        );
        let people: Vec<_> = imp.values().cloned().collect();
        assert_eq!(people[0].needs, vec!["medical", "insulin"]);
        assert_eq!(people[1].language, "en");
        let back = read("p.csv", to_csv(&people).as_bytes()).unwrap();
        assert_eq!(back.values().cloned().collect::<Vec<_>>(), people);
        let back = read("p.geojson", to_geojson(&people).as_bytes()).unwrap();
        assert_eq!(back.values().cloned().collect::<Vec<_>>(), people);
    }
}
