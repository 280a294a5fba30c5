//! Warning levels (China's four-colour convention plus normal) and event
//! severity.

use crate::ModelError;
use std::fmt;

/// Risk level: 0 normal, IV blue (一般), III yellow (较重), II orange (严重),
/// I red (特别严重). Ordered so that `Level::I > Level::IV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Normal = 0,
    IV = 1,
    III = 2,
    II = 3,
    I = 4,
}

impl Level {
    pub const ALL: [Level; 5] = [Level::Normal, Level::IV, Level::III, Level::II, Level::I];

    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" | "normal" | "none" => Ok(Level::Normal),
            "iv" | "4" | "blue" => Ok(Level::IV),
            "iii" | "3" | "yellow" => Ok(Level::III),
            "ii" | "2" | "orange" => Ok(Level::II),
            "i" | "1" | "red" => Ok(Level::I),
            _ => Err(ModelError::Level(s.to_string())),
        }
    }
    /// Roman numeral (or 0).
    pub fn code(self) -> &'static str {
        match self {
            Level::Normal => "0",
            Level::IV => "IV",
            Level::III => "III",
            Level::II => "II",
            Level::I => "I",
        }
    }
    pub fn colour(self) -> &'static str {
        match self {
            Level::Normal => "none",
            Level::IV => "blue",
            Level::III => "yellow",
            Level::II => "orange",
            Level::I => "red",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            Level::Normal => "normal",
            Level::IV => "general",
            Level::III => "serious",
            Level::II => "severe",
            Level::I => "especially severe",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Level::Normal => "正常",
            Level::IV => "一般（蓝色）",
            Level::III => "较重（黄色）",
            Level::II => "严重（橙色）",
            Level::I => "特别严重（红色）",
        }
    }
    /// Command level that leads the response at this grade.
    pub fn command(self) -> &'static str {
        match self {
            Level::I | Level::II => "central command",
            Level::III => "embassy / provincial lead",
            Level::IV => "local or enterprise lead, central monitoring",
            Level::Normal => "routine monitoring",
        }
    }
    pub fn rank(self) -> u8 {
        self as u8
    }
    pub fn from_rank(r: u8) -> Option<Self> {
        Self::ALL.get(r as usize).copied()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Level::Normal => f.write_str("0 normal"),
            l => write!(f, "{} {}", l.code(), l.colour()),
        }
    }
}

/// Event severity from 1 (minimal) to 5 (extreme); the scale CAP's
/// Minor/Moderate/Severe/Extreme map onto (2..=5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Severity(u8);

impl Severity {
    pub const MINIMAL: Severity = Severity(1);
    pub const MINOR: Severity = Severity(2);
    pub const MODERATE: Severity = Severity(3);
    pub const SEVERE: Severity = Severity(4);
    pub const EXTREME: Severity = Severity(5);

    pub fn new(v: u8) -> Result<Self, ModelError> {
        if (1..=5).contains(&v) {
            Ok(Self(v))
        } else {
            Err(ModelError::Severity(v.to_string()))
        }
    }
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "minimal" => Ok(Self::MINIMAL),
            "minor" => Ok(Self::MINOR),
            "moderate" => Ok(Self::MODERATE),
            "severe" => Ok(Self::SEVERE),
            "extreme" => Ok(Self::EXTREME),
            _ => t
                .parse::<u8>()
                .ok()
                .and_then(|v| Self::new(v).ok())
                .ok_or_else(|| ModelError::Severity(s.to_string())),
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
    pub fn label(self) -> &'static str {
        ["minimal", "minor", "moderate", "severe", "extreme"][(self.0 - 1) as usize]
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_and_parse() {
        assert!(Level::I > Level::II && Level::IV > Level::Normal);
        assert_eq!(Level::parse("orange").unwrap(), Level::II);
        assert_eq!(Level::parse("III").unwrap(), Level::III);
        assert!(Level::parse("V").is_err());
        for l in Level::ALL {
            assert_eq!(Level::from_rank(l.rank()), Some(l));
            assert_eq!(Level::parse(l.code()).unwrap(), l);
        }
        assert_eq!(Level::I.label_zh(), "特别严重（红色）");
    }

    #[test]
    fn severity_bounds() {
        assert!(Severity::new(0).is_err() && Severity::new(6).is_err());
        assert_eq!(Severity::parse("Severe").unwrap(), Severity::SEVERE);
        assert_eq!(Severity::parse("3").unwrap().label(), "moderate");
    }
}
