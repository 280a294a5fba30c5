// Chinese and English for the UI. The choice is remembered in localStorage
// ("fg.lang"); elements carry data-i18n="key" (text) or
// data-i18n-placeholder="key".
"use strict";
window.I18N = (function () {
  const dict = {
    en: {
      "title": "farguard — interests abroad",
      "tab.map": "Map", "tab.incidents": "Incidents", "tab.registers": "Registers", "tab.audit": "Audit",
      "logout": "Log out",
      "login.title": "Sign in", "login.name": "Name", "login.password": "Password", "login.submit": "Sign in",
      "login.token": "Or an API token", "login.use_token": "Use token", "login.failed": "Sign-in failed: ",
      "map.category": "Category", "map.events": "Events", "map.pick": "Pick a country on the map.",
      "map.attribution": "Boundaries: Natural Earth (public domain), world-atlas (ISC). Events: The GDELT Project.",
      "map.as_of": "levels as of ", "map.level": "Level", "map.score": "Score", "map.trend": "Trend",
      "map.events_counted": "Events counted", "map.sites": "Sites", "map.people": "People", "map.incidents": "Open incidents",
      "map.why": "Why", "map.normal": "normal / not graded",
      "cat.security": "Security", "cat.political": "Political", "cat.legal": "Legal", "cat.economic": "Economic & financial",
      "cat.reputation": "Reputation", "cat.natural": "Natural hazards", "cat.health": "Public health",
      "lvl.0": "0 normal", "lvl.1": "IV blue (general)", "lvl.2": "III yellow (serious)", "lvl.3": "II orange (severe)", "lvl.4": "I red (especially severe)",
      "incidents.title": "Incident board", "incidents.none": "No incidents you may see.",
      "incidents.tasks": "Tasks", "incidents.timeline": "Timeline", "incidents.members": "Task force",
      "incidents.accountability": "Accountability (check-in)", "incidents.safe": "safe", "incidents.need_help": "need help",
      "incidents.no_answer": "no answer", "incidents.due": "due", "incidents.owner": "owner",
      "registers.sites": "Sites", "registers.people": "People", "registers.search": "Search", "registers.find": "Find",
      "registers.import": "Import sites (CSV or GeoJSON)", "registers.upload": "Upload", "registers.total": " found",
      "col.id": "ID", "col.name": "Name", "col.kind": "Kind", "col.country": "Country", "col.org": "Organisation",
      "col.countries": "Countries", "col.at": "When", "col.actor": "Who", "col.action": "What", "col.target": "Object",
      "audit.title": "Audit log", "audit.intact": "Chain intact: ", "audit.broken": "CHAIN BROKEN: ",
      "checkin.title": "Are you safe?", "checkin.safe": "I am safe", "checkin.help": "I need help",
      "checkin.note": "Anything we should know (optional)", "checkin.thanks": "Thank you. Your answer is recorded: ",
      "checkin.for": "Check-in for ", "checkin.invalid": "This link is not valid: "
    },
    zh: {
      "title": "farguard — 海外利益保护平台",
      "tab.map": "地图", "tab.incidents": "事件处置", "tab.registers": "登记册", "tab.audit": "审计",
      "logout": "退出",
      "login.title": "登录", "login.name": "用户名", "login.password": "密码", "login.submit": "登录",
      "login.token": "或使用 API 令牌", "login.use_token": "使用令牌", "login.failed": "登录失败：",
      "map.category": "风险类别", "map.events": "事件", "map.pick": "请在地图上选择国家。",
      "map.attribution": "边界：Natural Earth（公有领域），world-atlas（ISC）。事件：GDELT 项目。",
      "map.as_of": "等级评估时间：", "map.level": "等级", "map.score": "分值", "map.trend": "趋势",
      "map.events_counted": "计入事件", "map.sites": "项目与站点", "map.people": "人员", "map.incidents": "进行中的事件",
      "map.why": "依据", "map.normal": "正常／未评级",
      "cat.security": "安全风险", "cat.political": "政治风险", "cat.legal": "法律风险", "cat.economic": "经济金融风险",
      "cat.reputation": "声誉风险", "cat.natural": "自然灾害", "cat.health": "公共卫生",
      "lvl.0": "0 正常", "lvl.1": "Ⅳ级 蓝色（一般）", "lvl.2": "Ⅲ级 黄色（较重）", "lvl.3": "Ⅱ级 橙色（严重）", "lvl.4": "Ⅰ级 红色（特别严重）",
      "incidents.title": "事件处置看板", "incidents.none": "暂无您可查看的事件。",
      "incidents.tasks": "任务", "incidents.timeline": "时间线", "incidents.members": "工作组",
      "incidents.accountability": "人员平安确认", "incidents.safe": "平安", "incidents.need_help": "求助",
      "incidents.no_answer": "未回复", "incidents.due": "截止", "incidents.owner": "责任方",
      "registers.sites": "项目与站点", "registers.people": "人员", "registers.search": "搜索", "registers.find": "查找",
      "registers.import": "导入站点（CSV 或 GeoJSON）", "registers.upload": "上传", "registers.total": " 条",
      "col.id": "编号", "col.name": "名称", "col.kind": "类型", "col.country": "国家", "col.org": "机构",
      "col.countries": "所在国家", "col.at": "时间", "col.actor": "操作人", "col.action": "操作", "col.target": "对象",
      "audit.title": "审计日志", "audit.intact": "哈希链完整：", "audit.broken": "哈希链被篡改：",
      "checkin.title": "您安全吗？", "checkin.safe": "我平安", "checkin.help": "我需要帮助",
      "checkin.note": "补充说明（可选）", "checkin.thanks": "谢谢，您的回复已记录：",
      "checkin.for": "平安确认：", "checkin.invalid": "此链接无效："
    }
  };
  let lang = localStorage.getItem("fg.lang") || ((navigator.language || "").startsWith("zh") ? "zh" : "en");
  if (!dict[lang]) lang = "en";
  function t(key) { return (dict[lang] && dict[lang][key]) || dict.en[key] || key; }
  function apply(root) {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    (root || document).querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.dataset.i18n); });
    (root || document).querySelectorAll("[data-i18n-placeholder]").forEach(function (el) { el.placeholder = t(el.dataset.i18nPlaceholder); });
    const b = document.getElementById("lang");
    if (b) b.textContent = lang === "zh" ? "English" : "中文";
    document.title = t("title");
  }
  const listeners = [];
  function set(l) { lang = l; localStorage.setItem("fg.lang", l); apply(); listeners.forEach(function (f) { f(l); }); }
  function toggle() { set(lang === "zh" ? "en" : "zh"); }
  document.addEventListener("DOMContentLoaded", function () {
    apply();
    const b = document.getElementById("lang");
    if (b) b.addEventListener("click", toggle);
  });
  return { t: t, apply: apply, set: set, toggle: toggle, lang: function () { return lang; }, onChange: function (f) { listeners.push(f); } };
})();
