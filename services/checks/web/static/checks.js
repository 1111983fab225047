/* Quality checks: progressive enhancement. Every page works without this file.
 * With it: read aloud, the whole check on one page with its draft kept on the phone,
 * and an outbox that sends a check when the phone is online, always with the same
 * submission_id, so a retry can never make a second check. */
(function () {
  "use strict";
  document.documentElement.classList.remove("no-js");
  document.documentElement.classList.add("js");

  var meta = function (name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : null;
  };
  var checker = meta("qc-checker");
  var csrf = meta("qc-csrf");

  /* ---- storage on the phone (falls back to memory when the browser refuses) ---- */
  var memory = {};
  var store = {
    get: function (key) {
      try {
        var raw = window.localStorage.getItem(key);
        return raw ? JSON.parse(raw) : null;
      } catch (e) {
        return memory[key] || null;
      }
    },
    set: function (key, value) {
      memory[key] = value;
      try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* memory only */ }
    },
    remove: function (key) {
      delete memory[key];
      try { window.localStorage.removeItem(key); } catch (e) { /* nothing kept */ }
    }
  };
  var draftKey = "qc.draft." + checker;
  var outboxKey = "qc.outbox." + checker;

  /* ---- offline reload: a service worker keeps the check page and its files on this phone ----
   * The cached page is this checker's own: when someone else signs in on the phone, or they sign out,
   * the cache is emptied first (the service worker never keeps anything else: no API answers, no other pages). */
  var APP_CACHE_PREFIX = "qc-app-";
  function clearAppCache() {
    if (!("caches" in window)) return Promise.resolve();
    return window.caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) { return k.indexOf(APP_CACHE_PREFIX) === 0; })
        .map(function (k) { return window.caches.delete(k); }));
    }).catch(function () { /* nothing to clear */ });
  }
  function setUpOffline() {
    if (document.querySelector("[data-signed-out]")) {
      forgetEveryChecker();
      store.remove("qc.cache-owner");
      clearAppCache();
      if ("serviceWorker" in navigator) {
        navigator.serviceWorker.getRegistrations().then(function (regs) {
          regs.forEach(function (r) { r.unregister(); });
        }).catch(function () { /* none */ });
      }
      return;
    }
    if (!checker || !("serviceWorker" in navigator) || !("caches" in window)) return;
    var ready = Promise.resolve();
    if (store.get("qc.cache-owner") !== checker) {
      ready = clearAppCache().then(function () { store.set("qc.cache-owner", checker); });
    }
    ready.then(function () {
      return navigator.serviceWorker.register("/static/sw.js", { scope: "/check/" });
    }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      // This page opened before the worker was running: ask it to look after the page now.
      if (!navigator.serviceWorker.controller && registration.active) registration.active.postMessage("claim");
    }).catch(function () { /* no offline reload on this phone; the check still works */ });
  }

  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function isoDay(d) {
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }
  function daysAgo(n) { var d = new Date(); d.setDate(d.getDate() - n); return isoDay(d); }
  function today() { return daysAgo(0); }
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December"];
  function longDate(iso) {
    var p = iso.split("-");
    return parseInt(p[2], 10) + " " + MONTHS[parseInt(p[1], 10) - 1] + " " + p[0];
  }
  /* A day from the date picker (2026-11-03) or as people write it in the UK (3/11/2026); null if not a real day. */
  function parseDay(text) {
    text = (text || "").trim();
    var y, m, d, parts;
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
      parts = text.split("-"); y = +parts[0]; m = +parts[1]; d = +parts[2];
    } else {
      parts = text.split(/[\/\-. ]/);
      if (parts.length !== 3 || !parts.every(function (x) { return /^\d+$/.test(x); })) return null;
      d = +parts[0]; m = +parts[1]; y = +parts[2];
      if (y < 100) y += 2000;
    }
    var date = new Date(y, m - 1, d);
    if (date.getFullYear() !== y || date.getMonth() !== m - 1 || date.getDate() !== d) return null;
    return isoDay(date);
  }

  /* ---- read aloud: the browser's voice where it has one, else the recordings of the questions and answers ---- */
  function setUpReadAloud() {
    if (document.body.getAttribute("data-read-aloud-setting") !== "on") return;
    var canSpeak = "speechSynthesis" in window;
    var player = null;
    function hasVoice() { return canSpeak && window.speechSynthesis.getVoices().length > 0; }
    function playInTurn(urls) { // one after another, each when the one before has ended
      if (player) player.pause();
      if (!urls.length) return;
      player = new Audio(urls[0]);
      player.addEventListener("ended", function () { playInTurn(urls.slice(1)); });
      player.play();
    }
    document.querySelectorAll("[data-read-aloud]").forEach(function (button) {
      var scope = button.closest("[data-step]") || document.getElementById("main");
      var recorded = scope.querySelectorAll("[data-speak][data-audio]");
      if (!canSpeak && !recorded.length) return; // nothing this phone can read aloud here
      button.hidden = false;
      button.addEventListener("click", function () {
        if (!hasVoice() && recorded.length) {
          playInTurn(Array.prototype.map.call(recorded, function (el) { return el.getAttribute("data-audio"); }));
          return;
        }
        window.speechSynthesis.cancel();
        var words = Array.prototype.map.call(scope.querySelectorAll("[data-speak]"), function (el) {
          return el.textContent.replace(/\s+/g, " ").trim();
        }).filter(Boolean).join(". ");
        var utterance = new window.SpeechSynthesisUtterance(words);
        utterance.lang = "en-GB";
        utterance.rate = 0.9;
        window.speechSynthesis.speak(utterance);
      });
    });
  }

  /* ---- the outbox: checks waiting to be sent ---- */
  var outbox = {
    items: function () { return store.get(outboxKey) || []; },
    save: function (items) { store.set(outboxKey, items); notify(); },
    add: function (body) {
      var items = outbox.items().filter(function (i) { return i.body.submission_id !== body.submission_id; });
      items.push({ body: body, state: "waiting", queued_at: new Date().toISOString() });
      outbox.save(items);
    },
    find: function (id) {
      return outbox.items().filter(function (i) { return i.body.submission_id === id; })[0] || null;
    },
    mark: function (id, state, message) {
      outbox.save(outbox.items().map(function (i) {
        if (i.body.submission_id === id) { i.state = state; i.message = message || ""; i.changed_at = new Date().toISOString(); }
        return i;
      }));
    }
  };
  var listeners = [];
  function notify() { listeners.forEach(function (fn) { fn(); }); }

  var sending = false;
  var retryDelay = 3000;
  var retryTimer = null;

  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 20000);
  }

  function postOne(item) {
    var controller = "AbortController" in window ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, 30000) : null;
    return fetch("/check/submit", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" },
      body: JSON.stringify(item.body),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (timer) window.clearTimeout(timer);
      var id = item.body.submission_id;
      if (response.status === 202 || response.status === 409) {
        // 409: this id is already recorded, so the check reached us before.
        outbox.mark(id, "sent");
        return true;
      }
      if (response.status === 401 || response.status === 403) {
        outbox.mark(id, "waiting", "Open your own link on this phone, then we will send it.");
        return false;
      }
      if (response.status === 422 || response.status === 400 || response.status === 413) {
        var what = item.body.kind === "worry" ? "this worry" : "this check";
        outbox.mark(id, "failed", "We could not send " + what + ". Please ask your supporter for help.");
        return true;
      }
      return false; // 429, 5xx: try again later
    }, function () {
      if (timer) window.clearTimeout(timer);
      return false; // no connection: stays waiting
    });
  }

  function flush() {
    if (sending || !checker) return;
    var waiting = outbox.items().filter(function (i) { return i.state === "waiting"; });
    if (!waiting.length) return;
    if (navigator.onLine === false) { scheduleRetry(); return; }
    sending = true;
    var chain = Promise.resolve(true);
    var allDone = true;
    waiting.forEach(function (item) {
      chain = chain.then(function () { return postOne(item); }).then(function (done) { allDone = allDone && done; });
    });
    chain.then(function () {
      sending = false;
      if (allDone) {
        retryDelay = 3000;
        // Sent checks are on the server now ("My checks"); keep failed ones for the supporter to see.
        window.setTimeout(function () {
          outbox.save(outbox.items().filter(function (i) { return i.state !== "sent"; }));
        }, 60000);
      } else {
        scheduleRetry();
      }
    });
  }

  window.addEventListener("online", function () { retryDelay = 3000; flush(); });

  /* ---- pages outside the check ---- */
  function setUpStartPage() {
    var startForm = document.querySelector("[data-start-check]");
    if (startForm) {
      startForm.addEventListener("submit", function (event) {
        event.preventDefault();
        store.remove(draftKey);
        window.location.href = "/check/app";
      });
    }
    var carryOn = document.querySelector("[data-app-draft]");
    if (carryOn && store.get(draftKey)) {
      carryOn.hidden = false;
      if (startForm) startForm.querySelector("button").textContent = "Start a new check";
    }
    if (!document.querySelector("[data-check-app]")) {
      // Outside a check the worry goes into the check kept on this phone (a server-side check keeps its own link).
      document.querySelectorAll("[data-worried-link]").forEach(function (link) {
        if (link.getAttribute("href") === "/worried") link.setAttribute("href", "/check/app#worried");
      });
    }
  }

  /* ---- signing out: this phone keeps nothing of the checker afterwards ----
   * A check kept on the phone and not yet sent would be lost, so the first press says so in plain
   * words and the second signs out; either way the draft and the outbox are emptied first. */
  function setUpSignOut() {
    document.querySelectorAll("[data-sign-out-form]").forEach(function (form) {
      var warned = false;
      form.addEventListener("submit", function (event) {
        var waiting = outbox.items().filter(function (i) { return i.state !== "sent"; }).length;
        var unsent = waiting + (store.get(draftKey) ? 1 : 0);
        if (unsent && !warned) {
          event.preventDefault();
          warned = true;
          var note = form.querySelector("[data-sign-out-warning]");
          note.textContent = unsent === 1
            ? "1 check has not been sent yet. If you sign out now, it will be taken off this phone and not sent. "
            : unsent + " checks have not been sent yet. If you sign out now, they will be taken off this phone " +
              "and not sent. ";
          note.textContent += "Press the button again to sign out anyway.";
          note.hidden = false;
          note.focus();
          return;
        }
        store.remove(draftKey);
        store.remove(outboxKey);
      });
    });
  }

  function forgetEveryChecker() {
    try {
      for (var i = window.localStorage.length - 1; i >= 0; i--) {
        var key = window.localStorage.key(i);
        if (key && (key.indexOf("qc.draft.") === 0 || key.indexOf("qc.outbox.") === 0)) {
          window.localStorage.removeItem(key);
        }
      }
    } catch (e) { /* nothing kept */ }
  }

  function setUpOutboxList() {
    var box = document.querySelector("[data-outbox-list]");
    if (!box) return;
    var render = function () {
      var items = outbox.items().filter(function (i) { return i.state !== "sent"; });
      var list = box.querySelector("[data-outbox-items]");
      list.textContent = "";
      items.forEach(function (i) {
        var li = document.createElement("li");
        li.className = "check-card";
        var tag = document.createElement("strong");
        tag.className = "tag tag--waiting";
        tag.textContent = i.state === "failed" ? "Not sent" : "Waiting to send";
        var what = i.body.kind === "worry" ? "Your worry, written on " : "Check on ";
        li.appendChild(document.createTextNode(what + i.body.visited_on + " "));
        li.appendChild(tag);
        if (i.message) { var p = document.createElement("p"); p.textContent = i.message; li.appendChild(p); }
        list.appendChild(li);
      });
      box.hidden = items.length === 0;
    };
    listeners.push(render);
    render();
  }

  /* ---- the check on one page ---- */
  function setUpApp() {
    var form = document.querySelector("[data-check-app]");
    if (!form) return;
    var steps = form.getAttribute("data-steps").split(" ");
    var questionIds = form.getAttribute("data-question-ids").split(" ");
    var backLink = document.querySelector("[data-app-back]");
    var draft = store.get(draftKey);
    if (!draft || !draft.submission_id) {
      draft = { submission_id: newId(), values: {}, step: steps[0], started_at: new Date().toISOString() };
      store.set(draftKey, draft);
    }
    // A draft begun on an older question set carries on with this page's set (a newer version only adds
    // questions): its answers come back by name, and it resumes at the first question it has not answered.
    var version = form.getAttribute("data-question-set-version");
    // (A draft kept by an older copy of this file has no version: any answers in it were to version 1.)
    var draftVersion = draft.question_set_version || (Object.keys(draft.values).length ? "1" : version);
    var newQuestions = draftVersion !== version;
    draft.question_set_version = version;
    var current = null;
    var cameFrom = steps[0];
    var returning = false;

    // Put the saved answers back.
    Object.keys(draft.values).forEach(function (name) {
      var value = draft.values[name];
      var radio = form.querySelector('input[type="radio"][name="' + name + '"][value="' + value + '"]');
      if (radio) { radio.checked = true; return; }
      var box = document.getElementById(name);
      if (box && (box.tagName === "TEXTAREA" || box.hasAttribute("data-day-part"))) box.value = value;
    });

    // The day picker: from the phone's own today (the page may be an older copy kept for offline use).
    var visitDays = parseInt(form.getAttribute("data-visit-days"), 10) || 30;
    // The day, month and year boxes of "another day" (their example is the server's; the checks use the phone's today).
    var dayBoxes = form.querySelector("[data-day-boxes]");
    form.querySelectorAll("[data-today-words]").forEach(function (el) { el.textContent = longDate(today()); });

    // Who can see the name is one choice for the whole check: each screen's one-line reminder says it.
    function showNameChoice() {
      var named = checkedValue("name_share") === "named";
      form.querySelectorAll("[data-name-when]").forEach(function (words) {
        words.hidden = (words.getAttribute("data-name-when") === "named") !== named;
      });
    }
    form.addEventListener("change", function (event) { if (event.target.name === "name_share") showNameChoice(); });
    showNameChoice();
    // "Tell us more" stays open where something is already written in it.
    form.querySelectorAll("[data-comment-details]").forEach(function (details) {
      if (details.querySelector("textarea").value.trim()) details.open = true;
    });

    function keep() {
      form.querySelectorAll("input[type=radio]:checked").forEach(function (r) { draft.values[r.name] = r.value; });
      form.querySelectorAll("textarea, input[data-day-part]").forEach(function (t) { draft.values[t.id] = t.value; });
      draft.step = current;
      store.set(draftKey, draft);
    }
    form.addEventListener("input", keep);
    form.addEventListener("change", keep);

    function section(name) { return document.getElementById("step-" + name); }

    function show(name, focus) {
      if (sentId && name !== "sent") { window.location.href = "/"; return; } // this check is done
      if (!section(name)) name = steps[0];
      // Screens reached from any other, which go back to it.
      var aside = name === "worried" || name === "name" || name === "worry-sent";
      if (aside && current && ["worried", "name", "sent", "worry-sent"].indexOf(current) < 0) cameFrom = current;
      current = name;
      form.querySelectorAll("[data-step]").forEach(function (s) { s.hidden = s.getAttribute("data-step") !== name; });
      if (name === "check") renderSummary();
      var index = steps.indexOf(name);
      backLink.hidden = name === "sent";
      if (aside) backLink.setAttribute("href", "#" + cameFrom);
      else if (returning && name !== "check") backLink.setAttribute("href", "#check");
      else backLink.setAttribute("href", index > 0 ? "#" + steps[index - 1] : "/");
      var heading = section(name).querySelector("h1");
      if (heading) {
        document.title = heading.textContent.replace(/\s+/g, " ").trim() + " – Quality checks";
        if (focus) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
      }
      if (name !== "sent") keep();
      window.scrollTo(0, 0);
    }

    function go(name) {
      if (window.location.hash === "#" + name) show(name, true);
      else window.location.hash = name; // hashchange shows it, and the phone's Back button works
    }
    window.addEventListener("hashchange", function () { show(window.location.hash.slice(1), true); });

    function clearErrors(step) {
      var summary = step.querySelector("[data-step-errors]");
      summary.hidden = true;
      summary.querySelector("ul").textContent = "";
      step.querySelectorAll(".js-error").forEach(function (el) { el.remove(); });
      step.querySelectorAll(".form-group--error").forEach(function (el) { el.classList.remove("form-group--error"); });
    }

    function showErrors(step, errors) {
      var summary = step.querySelector("[data-step-errors]");
      var list = summary.querySelector("ul");
      errors.forEach(function (e) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = "#" + e.target;
        a.textContent = e.message;
        a.addEventListener("click", function (ev) { ev.preventDefault(); document.getElementById(e.target).focus(); });
        li.appendChild(a);
        list.appendChild(li);
        var group = e.group;
        group.classList.add("form-group--error");
        var p = document.createElement("p");
        p.className = "error-message js-error";
        p.id = e.target + "-error";
        p.innerHTML = '<span class="visually-hidden">Error:</span> ';
        p.appendChild(document.createTextNode(e.message));
        e.before.parentNode.insertBefore(p, e.before);
      });
      summary.hidden = false;
      summary.focus();
    }

    function checkedValue(name) {
      var chosen = form.querySelector('input[name="' + name + '"]:checked');
      return chosen ? chosen.value : null;
    }

    /* The visit: today, yesterday or the day given; an error message in plain words, or null. */
    function visitedOn() {
      var choice = checkedValue("visited") || "today";
      if (choice === "today") return { day: today() };
      if (choice === "yesterday") return { day: daysAgo(1) };
      var parts = ["visited-on", "visited-on-month", "visited-on-year"].map(function (id) {
        return document.getElementById(id).value.trim();
      });
      var example = daysAgo(7).split("-");
      var like = parseInt(example[2], 10) + " " + parseInt(example[1], 10) + " " + example[0];
      var missing = ["day", "month", "year"].filter(function (part, i) { return !parts[i]; });
      if (missing.length === 3) return { error: "Write the day, month and year you visited, for example " + like + "." };
      if (missing.length) return { error: "Write the " + missing.join(" and ") + " you visited, for example " + like + "." };
      var day = parseDay(parts.join("/"));
      if (!day) return { error: "Write a day that exists, for example " + like + " (day, month, year)." };
      if (day > today()) return { error: "The day you visited cannot be in the future. Choose today or a day before." };
      if (day < daysAgo(visitDays)) {
        return { error: "The visit was more than " + visitDays + " days ago. Send a check within " + visitDays +
          " days of the visit." };
      }
      return { day: day };
    }

    function validate(name) {
      var step = section(name);
      clearErrors(step);
      var errors = [];
      var who = step.querySelector("[data-who]");
      if (who && !checkedValue("answered_by")) {
        errors.push({ target: "answered-by", group: who, before: who.querySelector(".choices"),
          message: "Choose who is answering the questions." });
      }
      if (step.querySelector("[data-when]")) {
        var visit = visitedOn();
        if (visit.error) {
          errors.push({ target: "visited-on", group: step.querySelector("[data-other-day]"), before: dayBoxes,
            message: visit.error });
        }
      }
      step.querySelectorAll("[data-question]").forEach(function (group) {
        var qid = group.getAttribute("data-question");
        if (!step.querySelector('input[name="score-' + qid + '"]:checked')) {
          errors.push({
            target: "score-" + qid + "-3", group: group, before: group.querySelector(".choices"),
            message: "Choose an answer. If you do not want to answer, choose “I don’t want to answer”."
          });
        }
      });
      step.querySelectorAll("textarea[name=items]").forEach(function (box) {
        var items = lines(box.value);
        var message = items.length > 20 ? "You wrote more than 20 things. Please put some of them together."
          : items.some(function (i) { return i.length > 500; }) ? "One thing is too long. Please use 500 letters or fewer for each thing." : null;
        if (message) errors.push({ target: box.id, group: box.closest(".form-group"), before: box, message: message });
      });
      if (errors.length) showErrors(step, errors);
      return errors.length === 0;
    }

    function lines(text) {
      return (text || "").split(/\r?\n/).map(function (l) { return l.trim(); }).filter(Boolean);
    }

    var labels = {};
    form.querySelectorAll(".choice__input").forEach(function (input) {
      // By name and value: a question may have its own answer words ("Very sure"), so "3" alone is not enough.
      labels[input.name + "=" + input.value] = form.querySelector('label[for="' + input.id + '"]').textContent.replace(/\s+/g, " ").trim();
    });

    function renderSummary() {
      var dl = form.querySelector("[data-summary]");
      dl.textContent = "";
      var perScreenAll = steps.indexOf("questions") >= 0;
      var row = function (key, value, href, items) {
        var div = document.createElement("div");
        div.className = "summary-list__row";
        var dt = document.createElement("dt");
        dt.className = "summary-list__key";
        dt.textContent = key;
        var dd = document.createElement("dd");
        dd.className = "summary-list__value";
        if (items && items.length) {
          var ul = document.createElement("ul");
          ul.className = "list";
          items.forEach(function (t) { var li = document.createElement("li"); li.textContent = t; ul.appendChild(li); });
          dd.appendChild(ul);
        } else {
          dd.textContent = value;
        }
        var actions = document.createElement("dd");
        actions.className = "summary-list__actions";
        var a = document.createElement("a");
        a.className = "link-block";
        a.href = href;
        a.textContent = "Change";
        var hidden = document.createElement("span");
        hidden.className = "visually-hidden";
        hidden.textContent = " " + key;
        a.appendChild(hidden);
        a.addEventListener("click", function () { returning = href !== "#worried" && href !== "#name"; });
        actions.appendChild(a);
        div.appendChild(dt); div.appendChild(dd); div.appendChild(actions);
        dl.appendChild(div);
        return dd;
      };
      var note = function (dd, className, words) {
        var p = document.createElement("p");
        p.className = className;
        p.textContent = words;
        dd.appendChild(p);
      };
      var shareWords = function (name) {
        return checkedValue(name) === "named" ? "The manager can see your name" : "Your name is kept private";
      };
      var whoChosen = form.querySelector('input[name="answered_by"]:checked');
      row("Who is answering", whoChosen ? labels["answered_by=" + whoChosen.value] : "Not answered", "#who");
      var visit = visitedOn();
      row("When you visited", visit.day ? longDate(visit.day) : visit.error, "#when");
      questionIds.forEach(function (qid) {
        var chosen = form.querySelector('input[name="score-' + qid + '"]:checked');
        var text = document.getElementById("question-" + qid).textContent.trim();
        var dd = row(text, chosen ? labels[chosen.name + "=" + chosen.value] : "Not answered", perScreenAll ? "#questions" : "#q-" + qid);
        var comment = document.getElementById("comment-" + qid).value.trim();
        if (comment) note(dd, "summary-list__comment", "You said: “" + comment + "”");
      });
      row("What is working", "Nothing written", "#working", lines(document.getElementById("working-items").value));
      row("What is not working", "Nothing written", "#not-working", lines(document.getElementById("not-working-items").value));
      row("Who can see your name", shareWords("name_share"), "#name");
      var concern = document.getElementById("concern").value.trim();
      var sentAlone = draft.worry_sent_at ? "You sent your worry already, on its own." : "Nothing written";
      var dd3 = row("What you are worried about", concern || sentAlone, "#worried");
      if (concern) note(dd3, "summary-list__share", shareWords("share-concern"));
      form.querySelector("[data-worry-note]").hidden = !concern;
      returning = false;
    }

    function body() {
      var scores = { "3": 3, "2": 2, "1": 1, "skip": null };
      var share = function (name) { return checkedValue(name) === "named" ? "named" : "anonymous"; };
      return {
        submission_id: draft.submission_id,
        site_id: form.getAttribute("data-site-id"),
        question_set: {
          id: form.getAttribute("data-question-set-id"),
          version: parseInt(form.getAttribute("data-question-set-version"), 10)
        },
        visited_on: visitedOn().day || today(),
        answers: questionIds.map(function (qid) {
          var chosen = form.querySelector('input[name="score-' + qid + '"]:checked');
          return {
            question_id: qid,
            score: chosen ? scores[chosen.value] : null,
            comment: document.getElementById("comment-" + qid).value.trim(),
            share: share("name_share")
          };
        }),
        working: lines(document.getElementById("working-items").value),
        not_working: lines(document.getElementById("not-working-items").value),
        urgent_concern: document.getElementById("concern").value.trim() || null,
        answered_by: checkedValue("answered_by") || "alone",
        texts_share: share("name_share"),
        urgent_concern_share: share("share-concern")
      };
    }

    var sentId = null;
    function renderStatus() {
      if (!sentId) return;
      var item = outbox.find(sentId);
      var panel = form.querySelector("[data-sent-panel]");
      var title = panel.querySelector("h1");
      var status = form.querySelector("[data-send-status]");
      var state = item ? item.state : "sent";
      panel.classList.toggle("panel--waiting", state !== "sent");
      panel.setAttribute("data-state", state);
      if (state === "sent") {
        title.textContent = "Your check has been sent";
        status.textContent = "Sent";
      } else if (state === "failed") {
        title.textContent = "Your check has not been sent";
        status.textContent = item.message;
      } else {
        title.textContent = "Your check is saved on this phone";
        status.textContent = "Waiting to send — we will send it when you are back online.";
      }
    }
    listeners.push(renderStatus);

    /* A worry sent on its own: only the worry goes (nothing counts it as a check); the check stays to finish. */
    var worryId = null;
    function renderWorryStatus() {
      if (!worryId) return;
      var item = outbox.find(worryId);
      var state = item ? item.state : "sent";
      var panel = form.querySelector("[data-worry-panel]");
      panel.classList.toggle("panel--waiting", state !== "sent");
      panel.setAttribute("data-state", state);
      panel.querySelector("h1").textContent = state === "sent" ? "Your worry has been sent"
        : state === "failed" ? "Your worry has not been sent" : "Your worry is saved on this phone";
      form.querySelector("[data-worry-status]").textContent = state === "sent" ? "Thank you for telling us."
        : state === "failed" ? item.message + " It is back in your check, and will go with it."
        : "Waiting to send — we will send it when you are back online. If someone is in danger now, call 999.";
    }
    listeners.push(renderWorryStatus);

    /* A worry sent alone that could not be sent (refused, not just offline) goes back into the check, so it
       travels with the check rather than reaching nobody. */
    function takeBackFailedWorry() {
      var sent = !sentId && draft.worry_sent; // once the check itself is sent, its draft is gone
      var item = sent && outbox.find(sent.id);
      if (!item || item.state !== "failed") return;
      var box = document.getElementById("concern");
      if (!box.value.trim()) box.value = sent.text;
      delete draft.worry_sent;
      delete draft.worry_sent_at;
      store.set(draftKey, draft);
    }
    listeners.push(takeBackFailedWorry);
    takeBackFailedWorry();

    function sendWorryAlone() {
      var b = body();
      var worry = {
        submission_id: newId(),
        kind: "worry",
        site_id: b.site_id,
        question_set: b.question_set,
        visited_on: today(),
        answers: [],
        working: [],
        not_working: [],
        urgent_concern: b.urgent_concern,
        answered_by: b.answered_by,
        urgent_concern_share: b.urgent_concern_share
      };
      outbox.add(worry); // on the phone before the network is tried: nothing is lost
      worryId = worry.submission_id;
      document.getElementById("concern").value = ""; // sent: it must not go again with the check
      draft.worry_sent_at = new Date().toISOString();
      draft.worry_sent = { id: worry.submission_id, text: worry.urgent_concern };
      keep();
      renderWorryStatus();
      go("worry-sent");
      flush();
    }

    function send() {
      var b = body();
      outbox.add(b); // on the phone before the network is tried: nothing is lost
      sentId = b.submission_id;
      store.remove(draftKey);
      form.querySelector("[data-worry-sent]").hidden = !b.urgent_concern;
      renderStatus();
      go("sent");
      flush();
    }

    form.querySelectorAll("[data-next]").forEach(function (button) {
      button.addEventListener("click", function () {
        if (!validate(current)) return;
        if (returning) { go("check"); return; }
        go(steps[Math.min(steps.indexOf(current) + 1, steps.length - 1)]);
      });
    });
    form.querySelector("[data-send]").addEventListener("click", send);
    form.querySelector("[data-keep-worry]").addEventListener("click", function () { keep(); go(cameFrom); });
    form.querySelector("[data-name-done]").addEventListener("click", function () { keep(); go(cameFrom); });
    form.querySelector("[data-send-worry]").addEventListener("click", function () {
      var step = section("worried");
      clearErrors(step);
      var box = document.getElementById("concern");
      if (!box.value.trim()) {
        showErrors(step, [{ target: "concern", group: box.closest(".form-group"), before: box,
          message: "Write what you are worried about, then press the button again." }]);
        return;
      }
      // (A copy of the page kept from before worries went alone has no screen for it: the whole check goes.)
      if (section("worry-sent")) sendWorryAlone(); else send();
    });
    var carryOn = form.querySelector("[data-carry-on]");
    if (carryOn) carryOn.addEventListener("click", function () { go(cameFrom); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });

    if (newQuestions) {
      var unanswered = questionIds.filter(function (qid) { return !checkedValue("score-" + qid); })[0];
      if (unanswered) draft.step = steps.indexOf("questions") >= 0 ? "questions" : "q-" + unanswered;
    }
    var start = window.location.hash.slice(1);
    show(section(start) && start !== "sent" && start !== "worry-sent" ? start : (draft.step && section(draft.step) ? draft.step : steps[0]), false);
  }

  /* The printable record: a Print button where the browser can print (without JavaScript the page says how). */
  function setUpPrint() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      if (typeof window.print !== "function") return;
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpPrint();
    setUpOffline();
    setUpStartPage();
    setUpApp();
    setUpOutboxList();
    setUpSignOut();
    setUpReadAloud();
    flush();
  });
}());
