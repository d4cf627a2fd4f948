// Overview: this worker's decisions by outcome over the last hour, top reasons, dead letters, dunning recovery by
// variant and lag, from GET /api/overview; refreshed every 15 s.
"use strict";

(() => {
  const {api, el, table, card, badge, status} = Explorer;

  function bars(counts) {
    const entries = Object.entries(counts);
    if (!entries.length) return el("p", {class: "muted"}, "none in this window");
    const most = Math.max(...entries.map(([, n]) => n), 1);
    return el("div", {}, entries.map(([name, n]) => el("div", {class: "bar"},
      badge(name), el("span", {}, el("span", {class: "fill", style: null, "data-share": n / most})),
      el("span", {class: "num"}, n.toLocaleString()))));
  }

  function render(o) {
    document.getElementById("scope").textContent = o.scope;
    const grid = document.getElementById("overview");
    grid.replaceChildren(
      card("Checkout decisions by outcome", bars(o.decisions)),
      card("Refund decisions by outcome", bars(o.refund_decisions)),
      card("Top reasons", table(["decision", "reason", "count"],
        o.top_reasons.map((r) => [r.kind, el("code", {}, r.code), r.count.toLocaleString()]), [2])),
      card("Dead letters", table(["topic", "reason", "in window", "since start"],
        o.dead_letters.map((d) => [d.topic, el("code", {}, d.reason), d.count, d.since_start]), [2, 3])),
      card("Dunning recovery by variant", table(["variant", "cases opened", "recovered", "rate"],
        o.recovery.map((r) => [r.variant, r.opened, r.recovered,
          r.rate === null ? "—" : (100 * r.rate).toFixed(1) + " %"]), [1, 2, 3])),
      card("Consumer lag now", table(["topic", "messages behind"],
        o.lag.map((l) => [l.topic, l.messages.toLocaleString()]), [1]),
        el("p", {class: "muted"}, `${o.events.toLocaleString()} input events processed in this window.`)),
    );
    // widths are set from data attributes: the CSP allows no inline style attributes from markup
    for (const fill of grid.querySelectorAll(".fill")) {
      fill.style.width = (100 * Number(fill.dataset.share)).toFixed(1) + "%";
    }
  }

  async function load() {
    try {
      const {status: code, body} = await api("/api/overview");
      if (code !== 200 || !body) {
        status(code === 401 ? "A bearer token is needed." : `The worker answered ${code}.`, true);
        return;
      }
      status("");
      render(body);
    } catch (err) {
      status("The worker cannot be reached: " + err.message, true);
    }
  }

  load();
  setInterval(load, 15000);
})();
