/* Follow Airflow's light / dark choice (Airflow 3's UI: next-themes, class "light" or "dark" on <html>, the
   choice in localStorage "theme": light, dark or system). Same origin, so inside Airflow's iframe we read
   the parent's resolved class and follow its changes. Without this script the CSS follows prefers-color-scheme. */
(function () {
  var root = document.documentElement;
  function mode() {
    try { var p = window.parent !== window && window.parent.document.documentElement.classList; if (p && (p.contains("dark") || p.contains("light"))) return p.contains("dark") ? "dark" : "light"; } catch (e) { /* not same origin */ }
    try { var s = localStorage.getItem("theme"); if (s === "dark" || s === "light") return s; } catch (e) { /* storage off */ }
    return "";
  }
  function apply() { var m = mode(); if (m) root.setAttribute("data-theme", m); else root.removeAttribute("data-theme"); }
  apply();
  window.addEventListener("storage", function (e) { if (e.key === "theme") apply(); });
  try { if (window.parent !== window) new MutationObserver(apply).observe(window.parent.document.documentElement, { attributes: true, attributeFilter: ["class"] }); } catch (e) { /* not same origin */ }
})();
