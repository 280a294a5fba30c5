//! The risk taxonomy: seven categories (the policy paper's five plus natural
//! hazards and health) and their subtypes, with English and Chinese labels.

use crate::ModelError;
use std::fmt;

/// A risk category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Security,
    Political,
    Legal,
    Economic,
    Reputation,
    Natural,
    Health,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Security,
        Category::Political,
        Category::Legal,
        Category::Economic,
        Category::Reputation,
        Category::Natural,
        Category::Health,
    ];

    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "security" => Ok(Category::Security),
            "political" => Ok(Category::Political),
            "legal" => Ok(Category::Legal),
            "economic" | "economic-financial" | "economic_financial" => Ok(Category::Economic),
            "reputation" => Ok(Category::Reputation),
            "natural" => Ok(Category::Natural),
            "health" => Ok(Category::Health),
            _ => Err(ModelError::Category(s.to_string())),
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Category::Security => "security",
            Category::Political => "political",
            Category::Legal => "legal",
            Category::Economic => "economic",
            Category::Reputation => "reputation",
            Category::Natural => "natural",
            Category::Health => "health",
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Category::Security => "安全风险",
            Category::Political => "政治风险",
            Category::Legal => "法律风险",
            Category::Economic => "经济金融风险",
            Category::Reputation => "声誉风险",
            Category::Natural => "自然灾害",
            Category::Health => "公共卫生",
        }
    }
    /// The subtypes of this category.
    pub fn subtypes(self) -> impl Iterator<Item = Subtype> {
        SUBTYPES.iter().filter(move |s| s.1 == self).map(|s| s.0)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A subtype within a category. `Other*` catches what fits the category but
/// no named subtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subtype {
    ArmedConflict,
    ViolentAttack,
    ViolenceAgainstCivilians,
    Bombing,
    Terrorism,
    Kidnapping,
    Crime,
    CyberAttack,
    MilitaryThreat,
    OtherSecurity,
    Protest,
    Riot,
    Strike,
    Coup,
    RegimeChange,
    GovernanceBreakdown,
    HostilePolicy,
    DiplomaticTension,
    Engagement,
    OtherPolitical,
    ComplianceBlockage,
    AssetFreeze,
    Sanctions,
    Expropriation,
    ContractRepudiation,
    Detention,
    OtherLegal,
    CapitalControls,
    CurrencyBarrier,
    Default,
    InflationShock,
    Embargo,
    OtherEconomic,
    HostileOpinion,
    LabourDispute,
    CommunityDispute,
    OtherReputation,
    Earthquake,
    Flood,
    Cyclone,
    Volcano,
    Wildfire,
    Tsunami,
    Drought,
    OtherNatural,
    Epidemic,
    OtherHealth,
}

use Category as C;
use Subtype as S;

/// (subtype, category, code, English label, Chinese label)
const SUBTYPES: &[(Subtype, Category, &str, &str, &str)] = &[
    (
        S::ArmedConflict,
        C::Security,
        "armed_conflict",
        "armed conflict",
        "武装冲突",
    ),
    (
        S::ViolentAttack,
        C::Security,
        "violent_attack",
        "violent attack",
        "暴力袭击",
    ),
    (
        S::ViolenceAgainstCivilians,
        C::Security,
        "violence_against_civilians",
        "violence against civilians",
        "针对平民的暴力",
    ),
    (
        S::Bombing,
        C::Security,
        "bombing",
        "bombing / explosion",
        "爆炸袭击",
    ),
    (
        S::Terrorism,
        C::Security,
        "terrorism",
        "terrorism",
        "恐怖主义",
    ),
    (
        S::Kidnapping,
        C::Security,
        "kidnapping",
        "kidnapping / hostage taking",
        "绑架劫持",
    ),
    (S::Crime, C::Security, "crime", "crime", "刑事犯罪"),
    (
        S::CyberAttack,
        C::Security,
        "cyber_attack",
        "cyber attack on infrastructure",
        "网络攻击",
    ),
    (
        S::MilitaryThreat,
        C::Security,
        "military_threat",
        "military threat / force posture",
        "军事威胁",
    ),
    (
        S::OtherSecurity,
        C::Security,
        "other_security",
        "other security",
        "其他安全风险",
    ),
    (S::Protest, C::Political, "protest", "protest", "抗议示威"),
    (S::Riot, C::Political, "riot", "riot", "骚乱"),
    (S::Strike, C::Political, "strike", "strike", "罢工"),
    (S::Coup, C::Political, "coup", "coup", "政变"),
    (
        S::RegimeChange,
        C::Political,
        "regime_change",
        "regime change",
        "政权更迭",
    ),
    (
        S::GovernanceBreakdown,
        C::Political,
        "governance_breakdown",
        "governance breakdown",
        "治理失序",
    ),
    (
        S::HostilePolicy,
        C::Political,
        "hostile_policy",
        "hostile policy",
        "敌对政策",
    ),
    (
        S::DiplomaticTension,
        C::Political,
        "diplomatic_tension",
        "diplomatic tension",
        "外交紧张",
    ),
    (
        S::Engagement,
        C::Political,
        "engagement",
        "diplomatic engagement / cooperation (no risk signal)",
        "外交接触与合作",
    ),
    (
        S::OtherPolitical,
        C::Political,
        "other_political",
        "other political",
        "其他政治风险",
    ),
    (
        S::ComplianceBlockage,
        C::Legal,
        "compliance_blockage",
        "compliance blockage",
        "合规受阻",
    ),
    (
        S::AssetFreeze,
        C::Legal,
        "asset_freeze",
        "asset freeze",
        "资产冻结",
    ),
    (
        S::Sanctions,
        C::Legal,
        "sanctions",
        "sanctions / extraterritorial jurisdiction",
        "制裁与长臂管辖",
    ),
    (
        S::Expropriation,
        C::Legal,
        "expropriation",
        "expropriation",
        "征收没收",
    ),
    (
        S::ContractRepudiation,
        C::Legal,
        "contract_repudiation",
        "contract repudiation",
        "违约毁约",
    ),
    (
        S::Detention,
        C::Legal,
        "detention",
        "arrest / detention",
        "逮捕拘押",
    ),
    (
        S::OtherLegal,
        C::Legal,
        "other_legal",
        "other legal",
        "其他法律风险",
    ),
    (
        S::CapitalControls,
        C::Economic,
        "capital_controls",
        "capital controls",
        "资本管制",
    ),
    (
        S::CurrencyBarrier,
        C::Economic,
        "currency_barrier",
        "FX / convertibility barrier",
        "汇兑限制",
    ),
    (
        S::Default,
        C::Economic,
        "default",
        "sovereign or counterparty default",
        "债务违约",
    ),
    (
        S::InflationShock,
        C::Economic,
        "inflation_shock",
        "inflation shock",
        "通胀冲击",
    ),
    (
        S::Embargo,
        C::Economic,
        "embargo",
        "embargo / boycott",
        "禁运抵制",
    ),
    (
        S::OtherEconomic,
        C::Economic,
        "other_economic",
        "other economic",
        "其他经济金融风险",
    ),
    (
        S::HostileOpinion,
        C::Reputation,
        "hostile_opinion",
        "hostile public opinion",
        "负面舆情",
    ),
    (
        S::LabourDispute,
        C::Reputation,
        "labour_dispute",
        "labour dispute",
        "劳资纠纷",
    ),
    (
        S::CommunityDispute,
        C::Reputation,
        "community_dispute",
        "community dispute",
        "社区纠纷",
    ),
    (
        S::OtherReputation,
        C::Reputation,
        "other_reputation",
        "other reputation",
        "其他声誉风险",
    ),
    (
        S::Earthquake,
        C::Natural,
        "earthquake",
        "earthquake",
        "地震",
    ),
    (S::Flood, C::Natural, "flood", "flood", "洪水"),
    (
        S::Cyclone,
        C::Natural,
        "cyclone",
        "tropical cyclone",
        "热带气旋",
    ),
    (S::Volcano, C::Natural, "volcano", "volcano", "火山"),
    (S::Wildfire, C::Natural, "wildfire", "wildfire", "山火"),
    (S::Tsunami, C::Natural, "tsunami", "tsunami", "海啸"),
    (S::Drought, C::Natural, "drought", "drought", "干旱"),
    (
        S::OtherNatural,
        C::Natural,
        "other_natural",
        "other natural hazard",
        "其他自然灾害",
    ),
    (S::Epidemic, C::Health, "epidemic", "epidemic", "传染病疫情"),
    (
        S::OtherHealth,
        C::Health,
        "other_health",
        "other health",
        "其他公共卫生风险",
    ),
];

impl Subtype {
    fn row(self) -> &'static (Subtype, Category, &'static str, &'static str, &'static str) {
        // Every variant has exactly one row; the `taxonomy_table_is_complete` test proves it.
        SUBTYPES
            .iter()
            .find(|r| r.0 == self)
            .unwrap_or(&SUBTYPES[SUBTYPES.len() - 1])
    }
    pub fn category(self) -> Category {
        self.row().1
    }
    pub fn code(self) -> &'static str {
        self.row().2
    }
    pub fn label_en(self) -> &'static str {
        self.row().3
    }
    pub fn label_zh(self) -> &'static str {
        self.row().4
    }
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        let t = s.trim().to_ascii_lowercase();
        SUBTYPES
            .iter()
            .find(|r| r.2 == t)
            .map(|r| r.0)
            .ok_or_else(|| ModelError::Invalid {
                field: "subtype",
                value: s.to_string(),
                hint: "use a subtype code such as armed_conflict, protest, earthquake",
            })
    }
    /// Parses a subtype and checks it belongs to `cat`.
    pub fn parse_in(cat: Category, s: &str) -> Result<Self, ModelError> {
        let st = Self::parse(s)?;
        if st.category() == cat {
            Ok(st)
        } else {
            Err(ModelError::Subtype(s.to_string(), cat.code()))
        }
    }
    pub fn all() -> impl Iterator<Item = Subtype> {
        SUBTYPES.iter().map(|r| r.0)
    }
}

impl fmt::Display for Subtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taxonomy_table_is_complete() {
        // Every subtype round-trips through its code and belongs to one category.
        let mut n = 0;
        for st in Subtype::all() {
            assert_eq!(Subtype::parse(st.code()).unwrap(), st);
            assert!(st.category().subtypes().any(|s| s == st));
            n += 1;
        }
        assert_eq!(n, SUBTYPES.len());
        for c in Category::ALL {
            assert!(c.subtypes().count() >= 2, "{c}");
            assert_eq!(Category::parse(c.code()).unwrap(), c);
        }
    }

    #[test]
    fn subtype_must_match_category() {
        assert!(Subtype::parse_in(Category::Natural, "earthquake").is_ok());
        assert!(Subtype::parse_in(Category::Security, "earthquake").is_err());
    }
}
