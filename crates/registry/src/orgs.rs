//! Organisations from CSV or GeoJSON (properties only), and back.
//!
//! Columns: `id, name, kind` required (`kind`: central_agency, ministry,
//! embassy, consulate, provincial_office, state_enterprise,
//! private_enterprise, association, service_provider, partner); `country`
//! optional (ISO 3166-1).

use crate::rows::{self, FieldError, Fields, Spec, ferr};
use crate::{Import, RegistryError};
use farguard_model::{CountryCode, Geometry, OrgKind, Organisation};

pub const CSV_HEADER: [&str; 4] = ["id", "name", "kind", "country"];

fn org_from(f: &Fields<'_>, _g: Option<Geometry>) -> Result<Organisation, FieldError> {
    Ok(Organisation {
        id: f.req("id")?,
        name: f.req("name")?,
        kind: OrgKind::parse(&f.req("kind")?).map_err(|e| ferr("kind", e.to_string()))?,
        country: f
            .opt("country")
            .map(|c| CountryCode::parse(&c).map_err(|e| ferr("country", e.to_string())))
            .transpose()?,
    })
}

/// Reads organisations in either format.
pub fn read(name: &str, bytes: &[u8]) -> Result<Import<Organisation>, RegistryError> {
    rows::read(
        name,
        bytes,
        &Spec {
            required: &CSV_HEADER[..3],
            what: "organisation",
            build: &org_from,
            key: &|o: &Organisation| o.id.clone(),
            key_field: "id",
        },
    )
}

pub fn to_csv(orgs: &[Organisation]) -> String {
    rows::write_csv(
        &CSV_HEADER,
        orgs.iter().map(|o| {
            vec![
                o.id.clone(),
                o.name.clone(),
                o.kind.code().into(),
                o.country
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
            ]
        }),
    )
}

pub fn to_geojson(orgs: &[Organisation]) -> String {
    rows::feature_collection(orgs.iter().map(|o| {
        (
            None,
            serde_json::json!({"id": o.id, "name": o.name, "kind": o.kind.code(),
                "country": o.country.map(|c| c.as_str().to_string())}),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orgs_read_validate_and_round_trip() {
        let text = "id,name,kind,country\n\
            mfa,Ministry of Foreign Affairs,ministry,CN\n\
            emb-ke,Embassy in Nairobi,embassy,KE\n\
            x,Castle,castle,\n\
            mfa,Again,ministry,CN\n";
        let imp = read("orgs.csv", text.as_bytes()).unwrap();
        assert_eq!(imp.rows.len(), 2);
        let m: Vec<String> = imp.errors.iter().map(|e| e.to_string()).collect();
        assert!(m[0].starts_with("orgs.csv:4: field `kind`"), "{}", m[0]);
        assert!(
            m[1].starts_with("orgs.csv:5: field `id`: duplicate"),
            "{}",
            m[1]
        );
        let orgs: Vec<_> = imp.values().cloned().collect();
        let back = read("o.csv", to_csv(&orgs).as_bytes()).unwrap();
        assert_eq!(back.values().cloned().collect::<Vec<_>>(), orgs);
        let back = read("o.geojson", to_geojson(&orgs).as_bytes()).unwrap();
        assert_eq!(back.values().cloned().collect::<Vec<_>>(), orgs);
    }
}
