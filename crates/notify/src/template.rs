//! A strict `{var}` renderer and the shipped Chinese and English texts.
//!
//! Strict on purpose: a variable the template names but the caller did not
//! set is an error naming it ([`NotifyError::MissingVar`]), never an empty
//! hole in a safety message. `{{` and `}}` are literal braces. The texts are
//! data: `notify.toml` can override any of them per language, and every
//! override is rendered once against a full variable set when loaded.

use crate::NotifyError;
use std::collections::BTreeMap;

/// The languages farguard writes alerts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];
    /// BCP 47 tag used in CAP `language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en-US",
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }
    /// A person's registered language: `zh*` is Chinese; anything else gets
    /// English, the common second language of the missions (a decision: a
    /// third template set can be added in `notify.toml` later).
    pub fn for_person(language: &str) -> Lang {
        let l = language.trim();
        let zh = l.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("zh"));
        if zh || l.eq_ignore_ascii_case("chinese") || l == "中文" {
            Lang::Zh
        } else {
            Lang::En
        }
    }
}

/// Renders `text` (named `name` in errors) with `vars`.
pub fn render(
    name: &str,
    text: &str,
    vars: &BTreeMap<&str, String>,
) -> Result<String, NotifyError> {
    let mut out = String::with_capacity(text.len() + 64);
    let b = text.as_bytes();
    let mut i = 0;
    let mut lit = 0;
    while i < b.len() {
        match b[i] {
            b'{' if b.get(i + 1) == Some(&b'{') => {
                out.push_str(&text[lit..i]);
                out.push('{');
                i += 2;
                lit = i;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => {
                out.push_str(&text[lit..i]);
                out.push('}');
                i += 2;
                lit = i;
            }
            b'{' => {
                out.push_str(&text[lit..i]);
                let Some(end) = text[i + 1..].find('}').map(|e| i + 1 + e) else {
                    return Err(NotifyError::BadTemplate {
                        template: name.into(),
                        at: i,
                    });
                };
                let var = text[i + 1..end].trim();
                match vars.get(var) {
                    Some(v) => out.push_str(v),
                    None => {
                        return Err(NotifyError::MissingVar {
                            template: name.into(),
                            var: var.into(),
                        });
                    }
                }
                i = end + 1;
                lit = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[lit..]);
    Ok(out)
}

/// Renders what is known now and keeps the `later` variables as
/// placeholders: the result is itself a template for [`render`]. Literal
/// braces stay doubled and every value filled in has its braces doubled, so
/// the second pass prints them as written. A variable neither in `vars` nor
/// in `later` is an error naming it, as in [`render`].
pub fn render_partial(
    name: &str,
    text: &str,
    vars: &BTreeMap<&str, String>,
    later: &[&str],
) -> Result<String, NotifyError> {
    let mut out = String::with_capacity(text.len() + 64);
    let b = text.as_bytes();
    let mut i = 0;
    let mut lit = 0;
    while i < b.len() {
        match b[i] {
            b'{' | b'}' if b.get(i + 1) == Some(&b[i]) => {
                // A literal brace, kept escaped for the second pass.
                i += 2;
            }
            b'{' => {
                out.push_str(&text[lit..i]);
                let Some(end) = text[i + 1..].find('}').map(|e| i + 1 + e) else {
                    return Err(NotifyError::BadTemplate {
                        template: name.into(),
                        at: i,
                    });
                };
                let var = text[i + 1..end].trim();
                match vars.get(var) {
                    Some(v) => escape_into(&mut out, v),
                    None if later.contains(&var) => {
                        out.push('{');
                        out.push_str(var);
                        out.push('}');
                    }
                    None => {
                        return Err(NotifyError::MissingVar {
                            template: name.into(),
                            var: var.into(),
                        });
                    }
                }
                i = end + 1;
                lit = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&text[lit..]);
    Ok(out)
}

/// Appends `v` with its braces doubled (a literal inside a template).
pub fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            c => out.push(c),
        }
    }
}

/// `v` as a template literal (braces doubled).
pub fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    escape_into(&mut s, v);
    s
}

/// The variables that differ per recipient (or are derived per outbox row):
/// they stay placeholders in an alert's stored text and are filled at send time.
pub const PER_RECIPIENT: &[&str] = &["name", "mission", "why", "checkin_link", "reply_code"];

/// Every variable a shipped template may use; overrides are checked against it.
pub const VARIABLES: &[&str] = &[
    "name",
    "headline",
    "level",
    "area",
    "sent",
    "advice",
    "mission",
    "contacts",
    "checkin_link",
    "reply_code",
    "why",
    "message",
];

/// The texts by (language, template name).
#[derive(Debug, Clone)]
pub struct Templates {
    texts: BTreeMap<(Lang, String), String>,
}

const SHIPPED: &[(Lang, &str, &str)] = &[
    (Lang::En, "subject", "[{level}] {headline}"),
    (
        Lang::En,
        "body",
        "{name},\n\n{headline}\nLevel: {level}. Area: {area}. Issued {sent}.\n\nWhat to do:\n{advice}\n\nNearest mission: {mission}\nEmergency contacts:\n{contacts}\n\nAre you safe? Answer here: {checkin_link}\nor reply by SMS: SAFE {reply_code} (or HELP {reply_code} and a few words).\n\nWhy you receive this: {why}\n",
    ),
    (
        Lang::En,
        "sms",
        "[{level}] {headline}. {advice} Mission: {mission}. Reply SAFE {reply_code} or HELP {reply_code}. {checkin_link}",
    ),
    (
        Lang::En,
        "org_body",
        "To {name}:\n\n{headline}\nLevel: {level}. Area: {area}. Issued {sent}.\n\nWhat to do:\n{advice}\n\nNearest mission: {mission}\nEmergency contacts:\n{contacts}\n\nWhy you receive this: {why}\n",
    ),
    (
        Lang::En,
        "reminder_subject",
        "Reminder — are you safe? [{level}] {headline}",
    ),
    (
        Lang::En,
        "reminder_body",
        "{name},\n\nWe have not heard from you about: {headline} ({area}).\nPlease answer now: {checkin_link}\nor reply by SMS: SAFE {reply_code} / HELP {reply_code}.\n\nWhat to do:\n{advice}\n\nNearest mission: {mission}\nEmergency contacts:\n{contacts}\n",
    ),
    (
        Lang::En,
        "reminder_sms",
        "Are you safe? {headline}. Reply SAFE {reply_code} or HELP {reply_code}. {checkin_link}",
    ),
    (Lang::En, "update_subject", "[Update] [{level}] {headline}"),
    (
        Lang::En,
        "update_body",
        "{name},\n\nUpdate to the alert: {headline} ({area}).\n{message}\nLevel: {level}. Updated {sent}.\n\nWhat to do:\n{advice}\n\nNearest mission: {mission}\nEmergency contacts:\n{contacts}\n\nAre you safe? Answer here: {checkin_link}\nor reply by SMS: SAFE {reply_code} (or HELP {reply_code} and a few words).\n",
    ),
    (
        Lang::En,
        "update_sms",
        "Update [{level}] {headline}: {message} Reply SAFE {reply_code} or HELP {reply_code}. {checkin_link}",
    ),
    (
        Lang::En,
        "update_org_body",
        "To {name}:\n\nUpdate to the alert: {headline} ({area}).\n{message}\nLevel: {level}. Updated {sent}.\n\nWhat to do:\n{advice}\n\nNearest mission: {mission}\nEmergency contacts:\n{contacts}\n",
    ),
    (Lang::En, "cancel_subject", "[Cancelled] {headline}"),
    (
        Lang::En,
        "cancel_body",
        "{name},\n\nThe alert \"{headline}\" ({area}) is cancelled as of {sent}.\n{message}\n\nIf you still need help, answer here: {checkin_link}\nor reply by SMS: HELP {reply_code} and a few words.\nEmergency contacts:\n{contacts}\n",
    ),
    (
        Lang::En,
        "cancel_sms",
        "Cancelled: {headline}. {message} Need help? Reply HELP {reply_code}. {checkin_link}",
    ),
    (
        Lang::En,
        "cancel_org_body",
        "To {name}:\n\nThe alert \"{headline}\" ({area}) is cancelled as of {sent}.\n{message}\n",
    ),
    (Lang::Zh, "subject", "【{level}】{headline}"),
    (
        Lang::Zh,
        "body",
        "{name}：\n\n{headline}\n预警级别：{level}。地区：{area}。发布时间：{sent}。\n\n应对建议：\n{advice}\n\n最近的使领馆：{mission}\n紧急联系方式：\n{contacts}\n\n您是否安全？请点击回复：{checkin_link}\n或短信回复：SAFE {reply_code}（如需帮助回复 HELP {reply_code} 并简述情况）。\n\n您收到此消息的原因：{why}\n",
    ),
    (
        Lang::Zh,
        "sms",
        "【{level}】{headline}。{advice} 使领馆：{mission}。平安请回复 SAFE {reply_code}，求助请回复 HELP {reply_code}。{checkin_link}",
    ),
    (
        Lang::Zh,
        "org_body",
        "{name}：\n\n{headline}\n预警级别：{level}。地区：{area}。发布时间：{sent}。\n\n应对建议：\n{advice}\n\n最近的使领馆：{mission}\n紧急联系方式：\n{contacts}\n\n贵单位收到此消息的原因：{why}\n",
    ),
    (
        Lang::Zh,
        "reminder_subject",
        "提醒：请报平安【{level}】{headline}",
    ),
    (
        Lang::Zh,
        "reminder_body",
        "{name}：\n\n关于“{headline}”（{area}），我们尚未收到您的回复。\n请立即回复：{checkin_link}\n或短信回复：SAFE {reply_code} / HELP {reply_code}。\n\n应对建议：\n{advice}\n\n最近的使领馆：{mission}\n紧急联系方式：\n{contacts}\n",
    ),
    (
        Lang::Zh,
        "reminder_sms",
        "请报平安：{headline}。平安回复 SAFE {reply_code}，求助回复 HELP {reply_code}。{checkin_link}",
    ),
    (Lang::Zh, "update_subject", "【更新】【{level}】{headline}"),
    (
        Lang::Zh,
        "update_body",
        "{name}：\n\n预警更新：{headline}（{area}）。\n{message}\n预警级别：{level}。更新时间：{sent}。\n\n应对建议：\n{advice}\n\n最近的使领馆：{mission}\n紧急联系方式：\n{contacts}\n\n您是否安全？请点击回复：{checkin_link}\n或短信回复：SAFE {reply_code}（如需帮助回复 HELP {reply_code} 并简述情况）。\n",
    ),
    (
        Lang::Zh,
        "update_sms",
        "预警更新【{level}】{headline}：{message} 平安请回复 SAFE {reply_code}，求助请回复 HELP {reply_code}。{checkin_link}",
    ),
    (
        Lang::Zh,
        "update_org_body",
        "{name}：\n\n预警更新：{headline}（{area}）。\n{message}\n预警级别：{level}。更新时间：{sent}。\n\n应对建议：\n{advice}\n\n最近的使领馆：{mission}\n紧急联系方式：\n{contacts}\n",
    ),
    (Lang::Zh, "cancel_subject", "【解除】{headline}"),
    (
        Lang::Zh,
        "cancel_body",
        "{name}：\n\n预警“{headline}”（{area}）已于 {sent} 解除。\n{message}\n\n如仍需帮助，请点击回复：{checkin_link}\n或短信回复：HELP {reply_code} 并简述情况。\n紧急联系方式：\n{contacts}\n",
    ),
    (
        Lang::Zh,
        "cancel_sms",
        "预警解除：{headline}。{message} 如需帮助请回复 HELP {reply_code}。{checkin_link}",
    ),
    (
        Lang::Zh,
        "cancel_org_body",
        "{name}：\n\n预警“{headline}”（{area}）已于 {sent} 解除。\n{message}\n",
    ),
];

impl Default for Templates {
    fn default() -> Self {
        Self {
            texts: SHIPPED
                .iter()
                .map(|(l, n, t)| ((*l, (*n).to_string()), (*t).to_string()))
                .collect(),
        }
    }
}

impl Templates {
    /// The shipped texts with `overrides` (language code → name → text)
    /// applied. Every override is rendered once against all known variables,
    /// so a misspelt variable fails here, naming the template.
    pub fn with_overrides(
        overrides: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Self, NotifyError> {
        let mut t = Self::default();
        let probe: BTreeMap<&str, String> = VARIABLES.iter().map(|v| (*v, String::new())).collect();
        for (lang, names) in overrides {
            let l = match lang.as_str() {
                "zh" => Lang::Zh,
                "en" => Lang::En,
                other => {
                    return Err(NotifyError::Config {
                        file: "notify.toml".into(),
                        reason: format!("[templates.{other}]: unknown language; expected zh or en"),
                    });
                }
            };
            for (name, text) in names {
                if !SHIPPED.iter().any(|(_, n, _)| n == name) {
                    let mut known: Vec<&str> = SHIPPED.iter().map(|(_, n, _)| *n).collect();
                    known.dedup();
                    return Err(NotifyError::Config {
                        file: "notify.toml".into(),
                        reason: format!(
                            "[templates.{lang}] {name}: unknown template; expected one of {}",
                            known.join(", ")
                        ),
                    });
                }
                render(&format!("{lang}/{name}"), text, &probe)?;
                t.texts.insert((l, name.clone()), text.clone());
            }
        }
        Ok(t)
    }

    /// Renders template `name` in `lang` with what every recipient shares,
    /// keeping the per-recipient variables ([`PER_RECIPIENT`]) as
    /// placeholders for send time.
    pub fn render_partial(
        &self,
        lang: Lang,
        name: &str,
        vars: &BTreeMap<&str, String>,
    ) -> Result<String, NotifyError> {
        let text =
            self.texts
                .get(&(lang, name.to_string()))
                .ok_or_else(|| NotifyError::NoTemplate {
                    name: name.into(),
                    lang: lang.code().into(),
                })?;
        render_partial(
            &format!("{}/{name}", lang.code()),
            text,
            vars,
            PER_RECIPIENT,
        )
    }

    /// Renders template `name` in `lang`.
    pub fn render(
        &self,
        lang: Lang,
        name: &str,
        vars: &BTreeMap<&str, String>,
    ) -> Result<String, NotifyError> {
        let text =
            self.texts
                .get(&(lang, name.to_string()))
                .ok_or_else(|| NotifyError::NoTemplate {
                    name: name.into(),
                    lang: lang.code().into(),
                })?;
        render(&format!("{}/{name}", lang.code()), text, vars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&'static str, &str)]) -> BTreeMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
    }

    #[test]
    fn renders_and_keeps_literal_braces() {
        let v = vars(&[("name", "李雷")]);
        assert_eq!(render("t", "{{x}} {name}!", &v).unwrap(), "{x} 李雷!");
    }

    #[test]
    fn a_missing_variable_is_an_error_naming_it() {
        let e = render(
            "en/body",
            "Dear {name}, see {advice}",
            &vars(&[("name", "A")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("en/body") && e.contains("{advice}"), "{e}");
        let e = render("x", "oops {name", &vars(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unclosed"), "{e}");
    }

    #[test]
    fn every_shipped_template_renders_with_the_known_variables() {
        let t = Templates::default();
        let all: BTreeMap<&str, String> = VARIABLES.iter().map(|v| (*v, "x".into())).collect();
        for (l, n, _) in SHIPPED {
            t.render(*l, n, &all).unwrap();
        }
        // Both languages have the same set of templates.
        for (_, n, _) in SHIPPED {
            for l in Lang::ALL {
                assert!(
                    t.texts.contains_key(&(l, n.to_string())),
                    "{n} missing in {l:?}"
                );
            }
        }
    }

    #[test]
    fn an_override_with_an_unknown_variable_fails_on_load() {
        let mut o = BTreeMap::new();
        o.insert(
            "en".to_string(),
            BTreeMap::from([("sms".to_string(), "hi {nme}".to_string())]),
        );
        let e = Templates::with_overrides(&o).unwrap_err().to_string();
        assert!(e.contains("en/sms") && e.contains("{nme}"), "{e}");
    }

    #[test]
    fn a_partial_render_keeps_later_variables_and_escapes_values() {
        let v = vars(&[("headline", "Flood {alert}"), ("level", "II")]);
        let t = render_partial(
            "en/body",
            "{{x}} [{level}] {headline} for {name}}",
            &v,
            PER_RECIPIENT,
        )
        .unwrap();
        assert_eq!(t, "{{x}} [II] Flood {{alert}} for {name}}");
        let done = render("en/body", &t, &vars(&[("name", "A {b}")])).unwrap();
        assert_eq!(done, "{x} [II] Flood {alert} for A {b}}");
        let e = render_partial("en/body", "{advice}", &v, PER_RECIPIENT)
            .unwrap_err()
            .to_string();
        assert!(e.contains("{advice}"), "{e}");
    }

    #[test]
    fn language_choice() {
        assert_eq!(Lang::for_person("zh-CN"), Lang::Zh);
        assert_eq!(Lang::for_person("en"), Lang::En);
        assert_eq!(Lang::for_person("sw"), Lang::En);
    }
}
