// Review queue: the cases waiting for a person (GET /api/reviews), each with verdict buttons that publish the
// verdict (POST /api/reviews/{case_id}/verdict) and a note.
"use strict";

(() => {
  const {api, el, card, when, status} = Explorer;
  const VERDICTS = {
    payment: [["confirmed_fraud", "Confirmed fraud"], ["legitimate", "Legitimate"]],
    refund: [["abuse", "Abuse"], ["not_abuse", "Not abuse"]],
  };

  function review(r) {
    const note = el("textarea", {placeholder: "note (optional)", "aria-label": "note"});
    const outcome = el("p", {class: "muted", role: "status"});
    const buttons = (VERDICTS[r.case_kind] || []).map(([verdict, label]) => el("button", {
      type: "button", "data-verdict": verdict, class: verdict === "legitimate" || verdict === "not_abuse"
        ? "secondary" : null,
      onclick: async () => {
        buttons.forEach((b) => { b.disabled = true; });
        const path = `/api/reviews/${encodeURIComponent(r.case_id)}/verdict`;
        try {
          const {status: code, body} = await api(path, {method: "POST", headers: {"Content-Type": "application/json"},
            body: JSON.stringify({verdict, note: note.value})});
          if (code === 202) {
            outcome.textContent = `Verdict recorded: ${label.toLowerCase()} (event ${body.event_id}).`;
            outcome.className = "verdict-recorded";
            return;
          }
          outcome.textContent = `Not recorded: ${(body && body.error) || "the worker answered " + code}.`;
        } catch (err) {
          outcome.textContent = "Not recorded: " + err.message;
        }
        outcome.className = "error";
        buttons.forEach((b) => { b.disabled = false; });
      },
    }, label));
    return card(`${r.case_kind === "refund" ? "Refund" : "Payment"} ${r.case_id}`,
      el("div", {class: "review", "data-case": r.case_id},
        el("p", {}, el("code", {}, r.customer), ` · ${r.amount} ${r.currency} · opened ${when(r.opened_at)}`),
        r.reasons && r.reasons.length ? el("ul", {class: "reasons"}, r.reasons.map((x) =>
          el("li", {}, typeof x === "string" ? x : `${x.text || x.detail || ""} `, x.code ? el("code", {}, x.code)
            : null))) : null,
        note, el("div", {class: "verdicts"}, buttons), outcome));
  }

  async function load() {
    try {
      const {status: code, body} = await api("/api/reviews");
      if (code !== 200 || !body) {
        status(code === 401 ? "A bearer token is needed." : `The worker answered ${code}.`, true);
        return;
      }
      const list = body.reviews || [];
      status(list.length ? `${list.length} case(s) waiting for a verdict.` : "No case is waiting for a verdict.");
      document.getElementById("reviews").replaceChildren(el("div", {class: "grid"}, list.map(review)));
    } catch (err) {
      status("The worker cannot be reached: " + err.message, true);
    }
  }

  load();
})();
