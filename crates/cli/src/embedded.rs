//! The real data the project ships, compiled into the binary so that
//! `farguard demo` works from any directory. Sources and licences:
//! `data/README.md`.

pub const GDELT_EXPORT_NAME: &str = "data/gdelt/20191024143000.export.CSV";
pub const GDELT_EXPORT: &[u8] = include_bytes!("../../../data/gdelt/20191024143000.export.CSV");
pub const WPI_NAME: &str = "data/ports/WPI_UpdatedPub150.csv";
pub const WPI: &[u8] = include_bytes!("../../../data/ports/WPI_UpdatedPub150.csv");
pub const AIRPORTS_NAME: &str = "data/airports/airportsdata_airports.csv";
pub const AIRPORTS: &[u8] = include_bytes!("../../../data/airports/airportsdata_airports.csv");
