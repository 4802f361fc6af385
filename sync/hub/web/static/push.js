// Web Push: offered only where the browser supports it; the subscription is stored on the hub.
(function () {
  var box = document.getElementById("push");
  var button = document.getElementById("push-button");
  var state = document.getElementById("push-state");
  if (!box || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
  var key = box.getAttribute("data-vapid");
  if (!key) { state.textContent = "not offered by this truck yet"; return; }
  button.hidden = false; state.textContent = "";
  button.addEventListener("click", function () {
    navigator.serviceWorker.register("/static/sw.js").then(function (reg) {
      return reg.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key});
    }).then(function (sub) {
      return fetch("/me/push", {method: "POST", credentials: "same-origin",
        headers: {"content-type": "application/json", "x-csrf-token": box.getAttribute("data-csrf")},
        body: JSON.stringify(sub)});
    }).then(function (r) { state.textContent = r.ok ? "on" : "could not turn on"; button.hidden = r.ok; })
      .catch(function () { state.textContent = "not allowed in this browser"; });
  });
})();
