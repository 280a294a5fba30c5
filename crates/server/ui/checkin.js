// The check-in page: opened from the link in an alert, no login. The token
// in the path is the credential; it only lets this person answer.
"use strict";
(function () {
  const token = decodeURIComponent(location.pathname.split("/").pop() || "");
  const t = function (k) { return I18N.t(k); };
  const what = document.getElementById("checkin-what");
  const result = document.getElementById("checkin-result");
  function show(v) {
    what.textContent = t("checkin.for") + (v.title || v.scope || "") + (v.name ? " — " + v.name : "");
    if (v.answer && v.answer !== "no_answer") result.textContent = t("checkin.thanks") + v.answer;
  }
  fetch("/api/v1/checkin/" + encodeURIComponent(token)).then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
    .then(function (x) { if (x[0]) show(x[1]); else what.textContent = t("checkin.invalid") + x[1].message; });
  function answer(status) {
    fetch("/api/v1/checkin/" + encodeURIComponent(token), {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ status: status, note: document.getElementById("note").value || null })
    }).then(function (r) { return r.json().then(function (b) { return [r.ok, b]; }); })
      .then(function (x) { result.textContent = x[0] ? t("checkin.thanks") + x[1].answer : t("checkin.invalid") + x[1].message; result.dataset.answer = x[0] ? x[1].answer : ""; });
  }
  document.getElementById("safe").addEventListener("click", function () { answer("safe"); });
  document.getElementById("help").addEventListener("click", function () { answer("need_help"); });
})();
