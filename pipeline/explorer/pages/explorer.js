// The journey explorer's shared helpers: the API with the bearer token, DOM building (text only, never HTML from
// data), tables and times. No framework, no build step.
"use strict";

const Explorer = (() => {
  const KEY = "journey-explorer-token";

  // A token given in the address (#token=...) is kept for this tab and taken out of the address bar.
  const fromHash = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (fromHash) {
    sessionStorage.setItem(KEY, decodeURIComponent(fromHash[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function askToken() {
    const bar = document.getElementById("token-bar");
    if (!bar || bar.classList.contains("shown")) return;
    const input = el("input", {type: "password", placeholder: "bearer token", "aria-label": "bearer token"});
    bar.replaceChildren(
      el("span", {}, "This worker needs its API token (JOURNEY_API_TOKEN):"), input,
      el("button", {type: "button", onclick: () => {
        sessionStorage.setItem(KEY, input.value.trim());
        location.reload();
      }}, "Use token"));
    bar.classList.add("shown");
  }

  async function api(path, options) {
    const opts = Object.assign({}, options || {});
    const headers = Object.assign({Accept: "application/json"}, opts.headers || {});
    const token = sessionStorage.getItem(KEY);
    if (token) headers.Authorization = "Bearer " + token;
    opts.headers = headers;
    const response = await fetch(path, opts);
    if (response.status === 401) askToken();
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    return {status: response.status, body};
  }

  function table(headers, rows, numeric) {
    const num = new Set(numeric || []);
    return el("table", {},
      el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", {class: num.has(i) ? "num" : null}, h)))),
      el("tbody", {}, rows.length ? rows.map((row) => el("tr", {}, row.map((cell, i) =>
        el("td", {class: num.has(i) ? "num" : null}, cell ?? "—"))))
        : el("tr", {}, el("td", {colspan: headers.length, class: "muted"}, "nothing yet"))));
  }

  function card(title, ...content) {
    return el("section", {class: "card"}, el("h2", {}, title), ...content);
  }

  function when(iso) {
    if (!iso) return "—";
    return iso.replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function badge(text, kind) {
    return el("span", {class: "badge " + (kind || text)}, String(text).replaceAll("_", " "));
  }

  function reasons(list) {
    if (!list || !list.length) return null;
    return el("ul", {class: "reasons"}, list.map((r) => el("li", {}, r.text, " ", el("code", {}, r.code))));
  }

  function status(message, isError) {
    const node = document.getElementById("status");
    if (node) {
      node.textContent = message || "";
      node.className = isError ? "error" : "muted";
    }
  }

  return {api, el, table, card, when, badge, reasons, status};
})();
