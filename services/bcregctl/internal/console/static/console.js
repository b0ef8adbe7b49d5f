// Refreshes the overview in place every few seconds (main[data-refresh]),
// unless the tab is hidden or the operator is in a form. Without
// JavaScript a <noscript> meta refresh does the same.
(function () {
  var main = document.getElementById("main");
  var secs = main && Number(main.getAttribute("data-refresh"));
  if (!secs) return;
  setInterval(function () {
    if (document.hidden || (document.activeElement && document.activeElement.form)) return;
    fetch(location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (next) main.innerHTML = next.innerHTML;
      })
      .catch(function () {});
  }, secs * 1000);
})();
