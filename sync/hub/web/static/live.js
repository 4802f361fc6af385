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
// Campaign publish status: refresh each truck's state until none is waiting (the Refresh link works without it).
(function () {
  var table = document.getElementById("publish-status");
  if (!table) return;
  var url = table.getAttribute("data-status-url");
  function poll() {
    fetch(url, {cache: "no-store", credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) {
        var waiting = false;
        rows.forEach(function (s) {
          var row = table.querySelector('tr[data-truck="' + s.truck + '"]');
          if (!row) return;
          var cell = row.querySelector(".state");
          cell.textContent = s.state; cell.className = "state " + s.state;
          row.querySelector(".reason").textContent = s.reason;
          if (s.state === "sent") waiting = true;
        });
        if (waiting) setTimeout(poll, 2000);
      }).catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
