// Progressive enhancement: without JavaScript the order page refreshes itself (noscript meta refresh).
(function () {
  var box = document.getElementById("order");
  if (!box) return;
  var url = box.getAttribute("data-state-url");
  var last = box.getAttribute("data-step");
  function poll() {
    fetch(url, {cache: "no-store", credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) return;
        var text = document.getElementById("order-state");
        text.textContent = s.text;
        text.className = "state step-" + s.step;
        box.setAttribute("data-step", s.step);
        if (s.claim && !document.getElementById("claim-code")) { window.location.reload(); return; }
        last = s.step;
      }).catch(function () {}).then(function () { if (last !== "collected") setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();
