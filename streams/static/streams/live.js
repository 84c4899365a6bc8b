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
      // An unseen badge's socket ({% streams_badge %}) is not the table's.
      var badge = new URL(url, location.href).searchParams.get("badge");
      var liveEl = badge ? null : document.querySelector("[ws-connect].live");
      if (liveEl && liveEl.dataset.mode === "prepend") {
        var u = new URL(url, location.href);
        var after = Math.max(parseInt(u.searchParams.get("after") || "0", 10), newestShown(liveEl));
        u.searchParams.set("after", String(after));
        url = u.toString();
      }
      var socket = createDefault ? createDefault(url) : new WebSocket(url);
      if (liveEl) {
        liveEl._liveSocket = socket;
        liveEl._lastFrame = Date.now();
      }
      return socket;
    };
    setInterval(watchdog, 2000);
  }

  // The server sends a heartbeat to idle sockets; a socket silent for three
  // of them is dead (a hung server or network): say so, and reconnect.
  function watchdog() {
    document.querySelectorAll("[ws-connect].live").forEach(function (liveEl) {
      var status = liveEl.querySelector(".live-status");
      var every = (parseFloat(liveEl.dataset.heartbeat) || 5) * 1000;
      if (!status || status.dataset.state !== "live" || !liveEl._wrapper) return;
      if (Date.now() - (liveEl._lastFrame || 0) < 3 * every) return;
      setState(liveEl, "reconnecting");
      var stale = liveEl._liveSocket;
      if (stale) {
        stale.onclose = null; // its late close must not start a second reconnect
        try { stale.close(); } catch (err) { /* already closing */ }
      }
      liveEl._lastFrame = Date.now();
      liveEl._wrapper.reconnect();
    });
  }

  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    e.target._lastFrame = Date.now();
    if (e.detail.message.lastIndexOf("<!--heartbeat", 0) === 0) e.preventDefault();
  });

  document.addEventListener("htmx:wsConnecting", function (e) {
    var liveEl = e.target;
    setState(liveEl, liveEl.dataset.opened ? "reconnecting" : "connecting");
  });
  document.addEventListener("htmx:wsOpen", function (e) {
    e.target.dataset.opened = "1";
    e.target._wrapper = e.detail.socketWrapper;
    e.target._retries = 0;
    e.target._lastFrame = Date.now();
    setState(e.target, "live");
    showPaused(tableName(e.target));
    // The page marked its own rows seen when it was served (streams.seen).
    if (e.target.dataset.seenUrl && e.target._seenUpto === undefined) e.target._seenUpto = newestShown(e.target);
  });
  document.addEventListener("htmx:wsClose", function (e) {
    var code = e.detail.event.code;
    if ((code === 1001 || code === 4012 || code === 4013) && document.body.contains(e.target)) {
      // The server went away (a restart) or lost its broadcast (4012), or the
      // broadcast is not back yet (4013): the extension only retries on
      // 1006/1011/1012/1013, so retry these too, with growing, jittered
      // delays, and catch up from the cursor (see above).
      var liveEl = e.target;
      var attempt = liveEl._retries = (liveEl._retries || 0) + 1;
      var delay = Math.min(30000, 500 * Math.pow(2, Math.min(attempt, 6))) * (0.5 + Math.random() / 2);
      setTimeout(function () { e.detail.socketWrapper.reconnect(); }, delay);
      setState(liveEl, "reconnecting");
    } else if ([1006, 1011, 1012, 1013].indexOf(code) >= 0) {
      setState(e.target, "reconnecting");
    } else if (code === 4401) {
      setState(e.target, "closed", "Not live: log in again");
    } else if (code === 4400 || code === 4403 || code === 4429) {
      setState(e.target, "closed", "Not live: " + (e.detail.event.reason || "refused"));
    } else {
      setState(e.target, "closed");
    }
  });

  // Rows held back while the table is paused, oldest first, per table.
  var held = {};

  function pauseButton(table) {
    return document.querySelector(".pause[data-table='" + table + "']");
  }

  function showPaused(table) {
    var button = pauseButton(table);
    if (!button) return;
    var count = (held[table] || []).length;
    var paused = button.getAttribute("aria-pressed") === "true";
    button.textContent = paused ? (count ? "Resume (" + count + " new)" : "Resume") : "Pause";
    var liveEl = document.getElementById(table + "-live");
    if (liveEl) {
      var status = liveEl.querySelector(".live-status");
      if (paused && status.dataset.state === "live") setState(liveEl, "live", "Paused — new rows wait");
      if (!paused && status.dataset.state === "live") setState(liveEl, "live");
    }
  }

  function resume(table) {
    var tbody = document.getElementById(table + "-rows");
    (held[table] || []).forEach(function (tr) {
      if (!document.getElementById(tr.id)) tbody.insertBefore(tr, tbody.firstChild);
    });
    held[table] = [];
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest(".pause[data-table]");
    if (!button) return;
    var table = button.dataset.table;
    var paused = button.getAttribute("aria-pressed") === "true";
    button.setAttribute("aria-pressed", paused ? "false" : "true");
    if (paused) resume(table);
    showPaused(table);
    if (paused) noteSeen(table); // the rows held meanwhile are shown now
  });

  // New filters, new rows: what was held for the old ones is dropped.
  document.addEventListener("htmx:afterSwap", function (e) {
    var id = e.detail.target && e.detail.target.id;
    if (id && /-results$/.test(id)) held[id.replace(/-results$/, "")] = [];
  });

  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var fragment = e.detail.fragment;
    if (!fragment || !fragment.querySelectorAll) return;
    // A row already on screen is never added twice (a reconnect may resend it).
    fragment.querySelectorAll("tr[id^='action-']").forEach(function (tr) {
      if (document.getElementById(tr.id)) tr.remove();
    });
    var target = e.detail.target;
    var table = target && target.id && target.id.replace(/-rows$/, "");
    if (table && target.id !== table) grow(table, fragment.querySelectorAll("tr[id^='action-']"));
    var button = table && target.id !== table && pauseButton(table);
    if (button && button.getAttribute("aria-pressed") === "true") {
      e.detail.shouldSwap = false;
      held[table] = held[table] || [];
      fragment.querySelectorAll("tr[id^='action-']").forEach(function (tr) { held[table].push(tr); });
      showPaused(table);
    }
  });
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    var bar = e.detail.target;
    if (bar && bar.classList && bar.classList.contains("new-bar")) bar.hidden = false;
    if (bar && /-rows$/.test(bar.id || "")) noteSeen(bar.id.replace(/-rows$/, ""));
  });

  // Rows arriving on an open, unfiltered first page of a table with an unseen
  // count (data-seen-url) are seen once they are in view: say so (at most
  // once a second) and the viewer's badges drop on every tab. Rows held by
  // Pause, or arriving in a hidden tab, wait until they are shown.
  var seenTimers = {};
  function noteSeen(table) {
    var liveEl = document.getElementById(table + "-live");
    if (!liveEl || !liveEl.dataset.seenUrl) return;
    var button = pauseButton(table);
    if (document.visibilityState !== "visible" || (button && button.getAttribute("aria-pressed") === "true")) {
      liveEl._seenPending = true;
      return;
    }
    if (seenTimers[table]) return;
    seenTimers[table] = setTimeout(function () {
      seenTimers[table] = null;
      liveEl._seenPending = false;
      var upto = newestShown(liveEl);
      if (!upto || upto <= (liveEl._seenUpto || 0) || !document.body.contains(liveEl)) return;
      liveEl._seenUpto = upto;
      fetch(liveEl.dataset.seenUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": liveEl.dataset.csrf },
        body: new URLSearchParams({ upto: String(upto) })
      }).catch(function () { liveEl._seenUpto = 0; });
    }, 1000);
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible") return;
    document.querySelectorAll("[ws-connect].live[data-seen-url]").forEach(function (liveEl) {
      if (liveEl._seenPending) noteSeen(tableName(liveEl));
    });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", install);
  } else {
    install();
  }
  // Times read relative ("3 min ago"), exact in the viewer's own zone on hover.
  function relative(seconds) {
    if (seconds < 45) return "just now";
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) return minutes + " min ago";
    var hours = Math.round(minutes / 60);
    if (hours < 24) return hours + (hours === 1 ? " hour ago" : " hours ago");
    var days = Math.round(hours / 24);
    if (days < 30) return days + (days === 1 ? " day ago" : " days ago");
    return null; // older: the date itself reads better
  }

  function humanise(root) {
    (root || document).querySelectorAll("td.col-timestamp time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      if (!el.dataset.exact) {
        el.dataset.exact = el.textContent;
        el.title = when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
      }
      var text = relative(Math.max(0, (Date.now() - when.getTime()) / 1000));
      el.textContent = text || when.toLocaleDateString(undefined, { dateStyle: "medium" });
    });
  }
  function startClock() { humanise(); setInterval(humanise, 30000); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startClock);
  else startClock();
  document.addEventListener("htmx:afterSwap", function (e) { humanise(e.target); });
  // A live frame's event targets the socket's element; its rows went into detail.target.
  document.addEventListener("htmx:oobAfterSwap", function (e) { humanise(e.detail.target || e.target); });

  // A name or verb in a row filters its table, keeping the other filters.
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.filter-link");
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey) return;
    var form = document.querySelector(".streams-page form.filters");
    if (!form || !window.htmx) return;
    var params = new URL(link.href, location.href).searchParams;
    var fields = [];
    params.forEach(function (value, name) { if (form.elements[name]) fields.push([form.elements[name], value]); });
    if (!fields.length) return;
    e.preventDefault();
    fields.forEach(function (pair) { pair[0].value = pair[1]; });
    htmx.trigger(form, "submit");
  });
  // The chart above a table (streams.charts) grows as its live rows arrive.
  function grow(table, rows) {
    var svg = document.querySelector("#" + table + "-chart svg.chart");
    if (!svg || !rows.length) return;
    var bars = svg.querySelectorAll("rect[data-start]");
    var added = 0;
    rows.forEach(function (tr) {
      var time = tr.querySelector("time[datetime]");
      var at = time && Date.parse(time.getAttribute("datetime"));
      if (!at) return;
      for (var i = bars.length - 1; i >= 0; i--) {
        var bar = bars[i];
        if (Date.parse(bar.dataset.start) <= at && at < Date.parse(bar.dataset.end)) {
          bar.dataset.count = String(parseInt(bar.dataset.count, 10) + 1);
          added += 1;
          break;
        }
      }
    });
    if (!added) return;
    var peak = 0;
    bars.forEach(function (bar) { peak = Math.max(peak, parseInt(bar.dataset.count, 10)); });
    var plot = parseFloat(svg.dataset.plot), top = parseFloat(svg.dataset.top);
    bars.forEach(function (bar) {
      var count = parseInt(bar.dataset.count, 10);
      var height = peak ? plot * count / peak : 0;
      bar.setAttribute("height", height.toFixed(1));
      bar.setAttribute("y", (top + plot - height).toFixed(1));
      var title = bar.querySelector("title");
      if (title) title.textContent = title.textContent.replace(/\d+$/, String(count));
    });
    var figure = svg.parentNode;
    var total = figure.querySelector(".chart-total");
    if (total) total.textContent = String(parseInt(total.textContent, 10) + added);
    var most = figure.querySelector(".chart-peak");
    if (most) {
      most.textContent = String(peak);
    } else if (total && total.nextSibling && total.nextSibling.nodeType === 3) {
      // An empty chart's caption has no busiest clause (streams.charts): its first row adds it.
      total.nextSibling.textContent = "; the busiest " + (svg.dataset.unit || "bar") + " had ";
      most = document.createElement("span");
      most.className = "chart-peak";
      most.textContent = String(peak);
      figure.querySelector("figcaption").appendChild(most);
      most.after(".");
    }
  }
})();
