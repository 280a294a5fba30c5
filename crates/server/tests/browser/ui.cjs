// farguard UI in real headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core). Started by the Rust test `browser::ui_in_headless_chromium`
// with a server already running on FG_URL. Prints one JSON line of findings
// and exits non-zero on the first failed expectation.
"use strict";
const { chromium } = require("playwright-core");

const URL_ = process.env.FG_URL;
const TOKEN = process.env.FG_TOKEN;
const CHECKIN = process.env.FG_CHECKIN_TOKEN;
const INCIDENT = process.env.FG_INCIDENT;
const found = {};

function expect(cond, what) {
  if (!cond) {
    console.log(JSON.stringify(found));
    throw new Error("expectation failed: " + what);
  }
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.FG_CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const ctx = await browser.newContext({ locale: "en-US" });
    const page = await ctx.newPage();
    const external = [];
    page.on("request", (r) => { if (!r.url().startsWith(URL_) && !r.url().startsWith("data:")) external.push(r.url()); });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));

    // Sign in with the API token.
    await page.goto(URL_ + "/");
    await page.fill("#token-form input[name=token]", TOKEN);
    await page.click("#token-form button");

    // 1. The map renders countries coloured by level.
    await page.waitForSelector("body[data-map-ready='1']", { timeout: 20000 });
    found.countries = await page.$$eval("#countries path", (ps) => ps.length);
    found.graded = await page.$$eval("#countries path", (ps) => ps.filter((p) => /lvl-[1-4]/.test(p.getAttribute("class"))).length);
    found.levels = await page.$$eval("#countries path", (ps) => [...new Set(ps.map((p) => p.dataset.level).filter(Boolean))].sort());
    const fills = await page.$$eval("#countries path", (ps) => [...new Set(ps.map((p) => getComputedStyle(p).fill))]);
    found.fills = fills.length;
    expect(found.countries >= 170, "the 110m map has every country (" + found.countries + ")");
    expect(found.graded > 0, "some countries are coloured above normal");
    expect(found.fills >= 3, "at least three distinct fills (no data, normal, a level)");
    const usClass = await page.getAttribute("#countries path[data-numeric='840']", "class");
    found.us = usClass;
    expect(/lvl-\d/.test(usClass || ""), "the United States has a level");
    await page.click("#countries path[data-numeric='404']");
    found.kenya_panel = (await page.textContent("#country-panel")).slice(0, 120);
    expect(/Kenya/.test(found.kenya_panel), "clicking Kenya opens its panel");
    found.events = await page.$$eval("#events circle", (cs) => cs.length);
    expect(found.events > 0, "event dots are drawn");
    await page.selectOption("#category", "political");
    await page.waitForSelector("body[data-map-ready='1']");
    found.political_graded = await page.$$eval("#countries path", (ps) => ps.filter((p) => /lvl-[1-4]/.test(p.getAttribute("class"))).length);

    // 2. The language switch works and is remembered.
    const en = await page.textContent("#title");
    await page.click("#lang");
    const zh = await page.textContent("#title");
    found.title_en = en; found.title_zh = zh;
    expect(/海外利益保护/.test(zh), "the title switches to Chinese");
    expect((await page.getAttribute("html", "lang")) === "zh-CN", "html lang is zh-CN");
    found.legend_zh = await page.textContent("#legend");
    expect(/红色/.test(found.legend_zh), "the legend is in Chinese");
    await page.reload();
    await page.waitForSelector("body[data-map-ready='1']", { timeout: 20000 });
    expect(/海外利益保护/.test(await page.textContent("#title")), "Chinese is remembered after a reload");
    await page.click("#lang");
    expect(/interests abroad/.test(await page.textContent("#title")), "and back to English");

    // 3. An incident opens on the board.
    await page.click("button[data-tab='incidents']");
    const card = "[data-incident='" + INCIDENT + "']";
    await page.waitForSelector(card, { timeout: 10000 });
    await page.click(card);
    await page.waitForSelector("#incident-detail [data-task='account_for_staff']", { timeout: 10000 });
    found.incident = (await page.textContent("#incident-detail h3"));
    found.accountability_before = await page.textContent("#accountability");

    // 4. A check-in answer given on the check-in page shows on the board.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const p2 = await phone.newPage();
    p2.on("request", (r) => { if (!r.url().startsWith(URL_)) external.push(r.url()); });
    await p2.goto(URL_ + "/checkin/" + CHECKIN);
    await p2.waitForFunction(() => /Synthetic/.test(document.getElementById("checkin-what").textContent), null, { timeout: 10000 });
    found.checkin_page = await p2.textContent("#checkin-what");
    const box = await p2.$("#safe").then((b) => b.boundingBox());
    expect(box && box.width > 300, "the answer button spans a phone screen");
    await p2.fill("#note", "at the hotel, all fine");
    await p2.tap("#safe");
    await p2.waitForFunction(() => /safe/.test(document.getElementById("checkin-result").textContent), null, { timeout: 10000 });
    found.checkin_result = await p2.textContent("#checkin-result");
    await phone.close();
    await page.click(card);
    await page.waitForSelector("#checkins li[data-status='safe']", { timeout: 10000 });
    found.checkin_on_board = await page.textContent("#checkins");
    found.accountability_after = await page.textContent("#accountability");
    expect(/safe 1/.test(found.accountability_after), "the board counts the answer");

    found.external_requests = external;
    found.page_errors = errors;
    expect(external.length === 0, "no request leaves the server: " + external.join(" "));
    expect(errors.length === 0, "no script errors: " + errors.join(" "));
    console.log(JSON.stringify(found));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
