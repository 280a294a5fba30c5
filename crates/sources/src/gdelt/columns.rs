//! Column positions of the GDELT event layouts, one table for all three so the
//! parser is written once: GDELT 2.0 exports (61 columns), GDELT 1.0 daily
//! files (58, with SOURCEURL) and the 1.0 historical backfile (57).
//!
//! The first 35 columns (ids, dates, actors, CAMEO codes and counts) sit at the
//! same positions in every layout. After them come three geography blocks
//! (Actor1Geo, Actor2Geo, ActionGeo): 2.0 added an `ADM2Code` column to each,
//! so its blocks are 8 columns wide instead of 7. Then DATEADDED
//! (`YYYYMMDDHHMMSS` in 2.0, `YYYYMMDD` in 1.0) and, except in the backfile,
//! SOURCEURL. Codebooks: `gdeltPyR_gdelt2_events_schema.csv` and
//! `gdeltPyR_gdelt1_events_schema.csv` in `../shared/data/gdelt/lookups/`.

pub const GLOBALEVENTID: usize = 0;
pub const SQLDATE: usize = 1;
pub const ACTOR1_NAME: usize = 6;
pub const ACTOR2_NAME: usize = 16;
pub const EVENT_CODE: usize = 26;
pub const EVENT_BASE_CODE: usize = 27;
pub const EVENT_ROOT_CODE: usize = 28;
pub const QUAD_CLASS: usize = 29;
pub const GOLDSTEIN_SCALE: usize = 30;
pub const NUM_MENTIONS: usize = 31;
pub const NUM_SOURCES: usize = 32;
pub const NUM_ARTICLES: usize = 33;
pub const AVG_TONE: usize = 34;

/// Where the layout-dependent columns are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub fields: usize,
    pub action_geo_type: usize,
    pub action_geo_full_name: usize,
    pub action_geo_country_code: usize,
    pub action_geo_adm1_code: usize,
    pub action_geo_lat: usize,
    pub action_geo_long: usize,
    pub date_added: usize,
    pub source_url: Option<usize>,
}

/// Geography blocks start at column 35; ActionGeo is the third block.
const fn layout(block_width: usize, source_url: bool) -> Layout {
    let action = 35 + 2 * block_width;
    // Inside a block: Type, FullName, CountryCode, ADM1Code, [ADM2Code], Lat, Long, FeatureID.
    let lat = action + block_width - 3;
    let date_added = action + block_width;
    Layout {
        fields: date_added + 1 + source_url as usize,
        action_geo_type: action,
        action_geo_full_name: action + 1,
        action_geo_country_code: action + 2,
        action_geo_adm1_code: action + 3,
        action_geo_lat: lat,
        action_geo_long: lat + 1,
        date_added,
        source_url: if source_url {
            Some(date_added + 1)
        } else {
            None
        },
    }
}

pub const V2: Layout = layout(8, true);
pub const V1_DAILY: Layout = layout(7, true);
pub const V1_HISTORICAL: Layout = layout(7, false);

/// The most columns any layout has.
pub const MAX_FIELDS: usize = 61;

#[cfg(test)]
mod tests {
    use super::*;

    /// Positions as the codebooks number them (0-based).
    #[test]
    fn layouts_match_the_codebooks() {
        assert_eq!(
            (
                V2.fields,
                V2.action_geo_type,
                V2.action_geo_lat,
                V2.date_added,
                V2.source_url
            ),
            (61, 51, 56, 59, Some(60))
        );
        assert_eq!(
            (
                V1_DAILY.fields,
                V1_DAILY.action_geo_type,
                V1_DAILY.action_geo_lat
            ),
            (58, 49, 53)
        );
        assert_eq!((V1_DAILY.date_added, V1_DAILY.source_url), (56, Some(57)));
        assert_eq!((V1_HISTORICAL.fields, V1_HISTORICAL.source_url), (57, None));
        for l in [V2, V1_DAILY, V1_HISTORICAL] {
            assert!(l.fields <= MAX_FIELDS);
        }
    }
}
