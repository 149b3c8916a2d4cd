/*
 * Lumen's storefront chat widget: one <script src=".../widget.js" defer></script> tag.
 *
 * Self-contained: no framework, no CDN. It lives in a shadow root so the shop's CSS cannot reach it,
 * renders every bot text with textContent (links become <a> only for http and https), keeps the
 * conversation in sessionStorage so it survives a page change, and talks to POST /api/chat on the
 * server that served this file.
 *
 * Theming, on the script tag: data-color (any CSS colour), data-position ("left" or "right"),
 * data-welcome (the first message), data-title (the panel's title; the shop's name by default),
 * data-lang (the language to open in; the browser's by default, else the shop's default).
 */
(function () {
  "use strict";

  var CONFIG = __LUMEN_CONFIG__;
  var script = document.currentScript;
  if (!script || window.__lumenWidget) return;
  window.__lumenWidget = true;

  var API = new URL("/api/chat", script.src).href;
  var STORE_KEY = "lumen-widget:" + new URL(script.src).origin;
  var URL_PATTERN = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
  var data = script.dataset;
  var lang = pickLanguage([data.lang, navigator.language].concat(navigator.languages || []));
  var T = CONFIG.languages[lang];
  var title = data.title || CONFIG.shopName;
  var welcome = data.welcome || T.welcome;
  var position = data.position === "left" ? "left" : "right";
  var accent = data.color && window.CSS && CSS.supports("color", data.color) ? data.color : "#1f5fbf";

  var CSS_TEXT = [
    ":host{all:initial;position:fixed;bottom:20px;" + position + ":20px;z-index:2147483000;",
    "font:15px/1.4 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1d1d1f;--accent:" + accent + "}",
    "*{box-sizing:border-box}[hidden]{display:none!important}",
    ".sr-only{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}",
    "button{font:inherit;cursor:pointer}",
    "button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}",
    ".launcher{display:flex;align-items:center;gap:8px;border:0;border-radius:28px;padding:14px 20px;",
    "background:var(--accent);color:#fff;box-shadow:0 6px 20px rgba(0,0,0,.25);font-weight:600}",
    ".launcher svg{width:22px;height:22px;fill:currentColor}",
    ".panel{position:absolute;bottom:0;" + position + ":0;width:min(380px,calc(100vw - 24px));",
    "height:min(580px,calc(100vh - 40px));display:flex;flex-direction:column;background:#fff;",
    "border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.3);overflow:hidden}",
    "header{display:flex;align-items:center;justify-content:space-between;padding:14px 16px;background:var(--accent);color:#fff}",
    "header h2{margin:0;font-size:17px}",
    ".close{border:0;background:transparent;color:#fff;font-size:24px;line-height:1;padding:2px 8px;border-radius:6px}",
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}",
    ".msg{max-width:85%;padding:9px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".bot{align-self:flex-start;background:#fff;border:1px solid #e1e4e8}",
    ".me{align-self:flex-end;background:var(--accent);color:#fff}",
    ".msg a{color:inherit;text-decoration:underline}",
    ".chips{display:flex;flex-wrap:wrap;gap:6px;padding:8px 14px 0;background:#f6f7f9}",
    ".chip{border:1px solid var(--accent);color:var(--accent);background:#fff;border-radius:16px;padding:6px 12px;font-size:14px}",
    ".typing{align-self:flex-start;color:#5f6368;font-style:italic;padding:2px 4px}",
    ".error{display:flex;align-items:center;gap:8px;justify-content:space-between;margin:8px 14px 0;padding:8px 10px;",
    "border-radius:8px;background:#fdecea;color:#8a1c12}",
    ".error button{border:1px solid #8a1c12;background:#fff;color:#8a1c12;border-radius:6px;padding:4px 10px}",
    "form{display:flex;gap:8px;padding:12px 14px;border-top:1px solid #e1e4e8;background:#fff}",
    "input{flex:1;min-width:0;font:inherit;padding:10px 12px;border:1px solid #c4c8cf;border-radius:10px}",
    ".send{border:0;border-radius:10px;padding:0 16px;background:var(--accent);color:#fff;font-weight:600}",
    ".send:disabled{opacity:.6;cursor:default}",
    "@media (max-width:480px){:host{bottom:12px;" + position + ":12px}",
    ".panel{position:fixed;inset:0;width:100vw;height:100dvh;border-radius:0}}",
  ].join("");

  var state = load();
  var host = document.createElement("div");
  host.id = "lumen-chat";
  var root = host.attachShadow({ mode: "open" });
  adoptStyles(root, CSS_TEXT);

  var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "lumen-panel" });
  launcher.innerHTML =
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
  launcher.appendChild(el("span", {}, T.launcher));
  launcher.setAttribute("aria-label", T.open);

  var panel = el("section", { class: "panel", id: "lumen-panel", role: "dialog", "aria-label": titled(T.dialog) });
  panel.hidden = true;
  var heading = el("h2", {}, title);
  var closeButton = el("button", { class: "close", type: "button", "aria-label": T.close }, "\u00d7");
  var header = el("header", {}, heading, closeButton);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": T.log });
  var chips = el("div", { class: "chips", role: "group", "aria-label": T.suggestions });
  var status = el("div", { class: "sr-only", role: "status" });
  var errorBox = el("div", { class: "error", role: "alert" });
  errorBox.hidden = true;
  var input = el("input", { type: "text", maxlength: String(CONFIG.maxLength), autocomplete: "off", "aria-label": T.message, placeholder: T.placeholder });
  var send = el("button", { class: "send", type: "submit" }, T.send);
  var form = el("form", {}, input, send);
  panel.append(header, log, chips, errorBox, status, form);
  root.append(launcher, panel);

  var typing = null;
  var pending = null;

  launcher.addEventListener("click", function () { setOpen(true); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") setOpen(false);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || pending) return;
    input.value = "";
    say(text);
  });

  // The first of the given language tags ("de-AT", "pt-BR") whose language the shop enables.
  function pickLanguage(tags) {
    for (var i = 0; i < tags.length; i++) {
      var code = String(tags[i] || "").toLowerCase().split(/[-_]/)[0];
      if (Object.prototype.hasOwnProperty.call(CONFIG.languages, code)) return code;
    }
    return CONFIG.defaultLanguage;
  }

  function titled(label) {
    return label.split("{title}").join(title);
  }

  function start() {
    document.body.appendChild(host);
    if (state.messages.length === 0) {
      state.messages.push({ from: "bot", text: welcome });
      state.quick = T.quickPrompts;
    }
    state.messages.forEach(function (message) { render(message.from, message.text); });
    showChips(state.quick || []);
    if (state.open) setOpen(true, { focus: false });
  }

  function setOpen(open, options) {
    state.open = open;
    save();
    panel.hidden = !open;
    launcher.hidden = open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      log.scrollTop = log.scrollHeight;
      if (!options || options.focus !== false) input.focus();
    } else {
      launcher.focus();
    }
  }

  function say(text) {
    hideError();
    showChips([]);
    addMessage("me", text);
    ask(text);
  }

  function ask(text) {
    pending = text;
    send.disabled = true;
    showTyping(true);
    fetch(API, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session: state.session, text: text, lang: lang }),
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.status === 429) {
            throw new Error(T.slowDown.split("{seconds}").join(response.headers.get("Retry-After") || "60"));
          }
          if (!response.ok) {
            throw new Error(T.notAnswering);
          }
          return body;
        });
      })
      .then(function (body) {
        state.session = body.session;
        var quick = [];
        (body.messages || []).forEach(function (message) {
          addMessage("bot", message.text);
          quick = message.quick_replies || quick;
        });
        state.quick = quick;
        save();
        showChips(quick);
        pending = null;
      })
      .catch(function (error) {
        var reason = error instanceof TypeError ? T.offline : error.message;
        showError(reason);
      })
      .finally(function () {
        showTyping(false);
        send.disabled = false;
      });
  }

  function addMessage(from, text) {
    state.messages.push({ from: from, text: text });
    state.messages = state.messages.slice(-100);
    save();
    render(from, text);
  }

  function render(from, text) {
    var bubble = el("div", { class: "msg " + from });
    bubble.appendChild(el("span", { class: "sr-only" }, (from === "me" ? T.you : title) + ": "));
    appendWithLinks(bubble, text);
    log.appendChild(bubble);
    log.scrollTop = log.scrollHeight;
  }

  // Text nodes only; a link only for http(s) URLs: a reply can never inject markup or a javascript: link.
  function appendWithLinks(parent, text) {
    var last = 0;
    String(text).replace(URL_PATTERN, function (url, index) {
      parent.appendChild(document.createTextNode(text.slice(last, index)));
      var link = el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url);
      parent.appendChild(link);
      last = index + url.length;
      return url;
    });
    parent.appendChild(document.createTextNode(String(text).slice(last)));
  }

  function showChips(labels) {
    chips.replaceChildren();
    labels.forEach(function (label) {
      var chip = el("button", { class: "chip", type: "button" }, label);
      chip.addEventListener("click", function () {
        if (!pending) say(label);
      });
      chips.appendChild(chip);
    });
    chips.hidden = labels.length === 0;
  }

  function showTyping(on) {
    if (on && !typing) {
      typing = el("div", { class: "typing", "aria-hidden": "true" }, titled(T.typing));
      log.appendChild(typing);
      log.scrollTop = log.scrollHeight;
      status.textContent = titled(T.typing).replace(/\u2026$/, "");
    } else if (!on && typing) {
      typing.remove();
      typing = null;
      status.textContent = "";
    }
  }

  function showError(reason) {
    var retry = el("button", { type: "button" }, T.retry);
    retry.addEventListener("click", function () {
      var text = pending;
      hideError();
      if (text) ask(text);
    });
    errorBox.replaceChildren(el("span", {}, reason), retry);
    errorBox.hidden = false;
  }

  function hideError() {
    errorBox.hidden = true;
    errorBox.replaceChildren();
  }

  function el(tag, attributes) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function adoptStyles(shadow, text) {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(text);
      shadow.adoptedStyleSheets = [sheet];
    } catch (error) {
      shadow.appendChild(el("style", {}, text));
    }
  }

  function load() {
    try {
      var saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
      if (saved && Array.isArray(saved.messages)) return saved;
    } catch (error) {
      /* storage blocked or corrupt: start afresh */
    }
    return { session: null, messages: [], quick: [], open: false };
  }

  function save() {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (error) {
      /* storage full or blocked: the chat still works for this page */
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
