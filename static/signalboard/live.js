// Live tables: the connection indicator, reconnect without gaps, no duplicate rows.
(function () {
  "use strict";

  var LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", closed: "Not live" };

  function setState(liveEl, state, detail) {
    var status = liveEl.querySelector(".live-status");
    if (!status) return;
    status.dataset.state = state;
    status.querySelector(".live-label").textContent = detail || LABELS[state];
  }

  function tableName(liveEl) {
    return liveEl.id.replace(/-live$/, "");
  }

  // Newest row shown, so a reconnect asks only for what came after it.
  function newestShown(liveEl) {
    var newest = 0;
    document.querySelectorAll("#" + tableName(liveEl) + "-rows > tr[id^='action-']").forEach(function (tr) {
      newest = Math.max(newest, parseInt(tr.id.slice(7), 10) || 0);
    });
    return newest;
  }

  function install() {
    if (!window.htmx) return;
    var createDefault = htmx.createWebSocket;
    htmx.createWebSocket = function (url) {
      var liveEl = document.querySelector("[ws-connect].live");
      if (liveEl && liveEl.dataset.mode === "prepend") {
        var u = new URL(url, location.href);
        var after = Math.max(parseInt(u.searchParams.get("after") || "0", 10), newestShown(liveEl));
        u.searchParams.set("after", String(after));
        url = u.toString();
      }
      return createDefault ? createDefault(url) : new WebSocket(url);
    };
  }

  document.addEventListener("htmx:wsConnecting", function (e) {
    var liveEl = e.target;
    setState(liveEl, liveEl.dataset.opened ? "reconnecting" : "connecting");
  });
  document.addEventListener("htmx:wsOpen", function (e) {
    e.target.dataset.opened = "1";
    setState(e.target, "live");
  });
  document.addEventListener("htmx:wsClose", function (e) {
    var code = e.detail.event.code;
    if ([1006, 1011, 1012, 1013].indexOf(code) >= 0) {
      setState(e.target, "reconnecting");
    } else if (code === 4401) {
      setState(e.target, "closed", "Not live: log in again");
    } else if (code === 4400 || code === 4403) {
      setState(e.target, "closed", "Not live: " + (e.detail.event.reason || "refused"));
    } else {
      setState(e.target, "closed");
    }
  });

  // A row already on screen is never added twice (a reconnect may resend it).
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var fragment = e.detail.fragment;
    if (!fragment || !fragment.querySelectorAll) return;
    fragment.querySelectorAll("tr[id^='action-']").forEach(function (tr) {
      if (document.getElementById(tr.id)) tr.remove();
    });
  });
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    var bar = e.detail.target;
    if (bar && bar.classList && bar.classList.contains("new-bar")) bar.hidden = false;
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", install);
  } else {
    install();
  }
})();
