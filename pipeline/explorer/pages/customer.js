// Customer: what the pipeline knows and uses about one customer (GET /api/customers/{id}): standing and flags,
// the last decisions with their reasons, profile facts, open dunning cases, refunds and linked claims, and a
// timeline of events and outputs, every reason in words.
"use strict";

(() => {
  const {api, el, table, card, when, badge, reasons, status} = Explorer;
  const day = (iso) => (iso ? iso.slice(0, 10) : "—");
  const id = new URLSearchParams(location.search).get("id");

  function seen(title, rows) {
    return card(title, table(["value", "times", "paid ok", "failed", "first seen", "last seen"],
      rows.map((s) => [el("code", {}, s.value), s.count, s.succeeded, s.failed, day(s.first_seen),
        day(s.last_seen)]), [1, 2, 3]));
  }

  function decision(d) {
    return el("div", {class: "decision " + (d.outcome || "")},
      el("div", {}, badge(d.outcome || d.type), " ", el("time", {class: "muted"}, when(d.at)), " ",
        el("span", {class: "muted"}, `policy ${d.policy_version}`)),
      el("div", {}, d.text), reasons(d.reasons));
  }

  function render(c) {
    const s = c.standing, p = c.profile, r = c.refunds;
    const root = document.getElementById("customer");
    root.replaceChildren(
      el("h2", {}, "Customer ", el("code", {}, c.customer), " ",
        badge(s.good_standing ? "good standing" : "restricted", s.good_standing ? "good" : "bad")),
      el("p", {class: "muted"}, `As of ${when(c.as_of)}, policy ${c.policy_version}. Identifiers are shown as ` +
        "keyed pseudonyms, never raw."),
      card("Standing and flags", s.flags.length
        ? el("ul", {class: "reasons"}, s.flags.map((f) => el("li", {}, f.text, " ", el("code", {}, f.code))))
        : el("p", {class: "muted"}, "No flag in force.")),
      card("Last decisions", c.decisions.length ? el("div", {class: "decisions"}, c.decisions.map(decision))
        : el("p", {class: "muted"}, "No decision kept yet.")),
      el("div", {class: "grid"},
        card("Payments", table(["", ""], [
          ["home country", p.home_country], ["first seen", when(p.first_seen)],
          ["attempted / succeeded / failed", `${p.payments.attempted} / ${p.payments.succeeded} / ${p.payments.failed}`],
          ["blocked as fraud", p.payments.fraud_blocks], ["paid", p.payments.paid.join(", ") || "—"],
          ["3-D Secure passed / failed / abandoned",
            `${p.challenges.passed} / ${p.challenges.failed} / ${p.challenges.abandoned}`],
          ["chargebacks", p.chargebacks],
          ["orders online / store / delivered", `${p.orders.online} / ${p.orders.store} / ${p.orders.delivered}`],
        ])),
        seen("Usual devices", p.devices),
        seen("Countries (by IP)", p.countries),
        seen("Payment methods", p.methods),
        seen("Cards", p.cards),
        seen("Shipping addresses", p.addresses),
        card("SCA history per issuer", table(
          ["issuer", "exemptions asked", "accepted", "rejected", "3DS passed", "failed", "abandoned"],
          p.sca_by_issuer.map((i) => [i.issuer, i.exemptions_requested, i.exemptions_accepted,
            i.exemptions_rejected, i.challenges_passed, i.challenges_failed, i.challenges_abandoned]),
          [1, 2, 3, 4, 5, 6])),
        card("Open dunning cases", table(["case", "amount", "decline", "variant", "next action"],
          c.dunning.map((d) => [el("code", {}, d.case_id), d.amount, `${d.decline_class} (${d.reason_code})`,
            d.variant, d.next_action ? `${d.next_action.action} at ${when(d.next_action.due_at)}` : "none"]))),
        card("Refunds", table(["refund", "order", "reason", "amount", "at", "issued to"],
          r.claims.map((k) => [el("code", {}, k.refund_id), k.order_id, k.reason, k.amount, when(k.at),
            k.issued_to])),
          el("p", {class: "muted"}, `${r.orders} orders, ${r.delivered} delivered, ${r.claims_total} claims, ` +
            `${r.refunds_issued} refunds issued, ${r.tenure_days} days with us.`)),
        card("Linked claims", r.linked_claims.length
          ? table(["account", "claim", "reason", "at"],
            r.linked_claims.map((k) => [el("code", {}, k.customer), el("code", {}, k.ref), k.reason, when(k.at)]))
          : el("p", {class: "muted"}, `No claim by a linked account in the last ${r.lookback_days} days.`),
          r.linked_accounts ? el("p", {}, `${r.linked_accounts} linked account(s), via ${r.linked_via.join(", ")}.`)
            : null),
      ),
      card(`Timeline (the last ${c.history_kept} records kept)`, c.timeline.length
        ? el("ol", {class: "timeline"}, c.timeline.map((t) => el("li", {},
          el("time", {}, when(t.at)), el("span", {}, badge(t.direction, t.direction)),
          el("div", {}, el("strong", {}, t.type), " ", t.outcome ? badge(t.outcome) : null, el("div", {}, t.text),
            reasons(t.reasons)))))
        : el("p", {class: "muted"}, "Nothing kept (JOURNEY_EXPLORER_HISTORY=0, or nothing since it was turned on).")),
    );
  }

  async function load() {
    if (!id) return;
    document.querySelector("header input[name=id]").value = id;
    status("Looking the customer up…");
    try {
      const {status: code, body} = await api("/api/customers/" + encodeURIComponent(id));
      if (code === 200 && body) {
        status("");
        render(body);
      } else if (code === 404) {
        status("No customer with that id is known to the pipeline.", true);
      } else {
        status(code === 401 ? "A bearer token is needed." : `The worker answered ${code}.`, true);
      }
    } catch (err) {
      status("The worker cannot be reached: " + err.message, true);
    }
  }

  load();
})();
